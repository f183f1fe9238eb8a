internal import CDNNL
import CWinograd
import Engine

/// A 3x3 convolution of stride 1 and padding 1 by Winograd's F(2x2, 3x3): each 2x2
/// block of outputs takes 16 multiply-adds per channel pair rather than 36. The oneDNN
/// that mgpr ships has no Winograd kernels on x86-64, and these convolutions are most of
/// the work of ResNet50's blocks, the FPN and the detectors' heads.
///
/// The tiles go through in chunks sized to stay in cache, shared out among a team of
/// oneDNN's own OpenMP threads. Each thread takes its chunks alone, with no barrier
/// between them (threads that wait on each other lose whole time slices where cores are
/// shared): it transforms a chunk's input tiles into 16 matrices (C code, `CWinograd`),
/// multiplies each by its transformed weights (16 oneDNN matrix products, made for one
/// thread), and turns the products back into output tiles, adding the bias and a
/// residual and applying ReLU. The data transforms add and subtract only; the weights are
/// transformed once, in Double.
///
/// In float32 and in bf16. In bf16 the transformed tiles are rounded to bf16 for the
/// products, which the direct convolution does not do; on a 64-channel layer alone that
/// made the mean error 2.7 times the direct bf16 convolution's, but a network's bf16
/// error is the rounding of every layer's output to bf16, which both share: ResNet50's
/// median logit error against float64 rose from 0.100 to 0.104 (PyTorch's autocast:
/// 0.112), and the bf16 tests hold whole networks to autocast's error.
///
/// Unchecked Sendable: in `run`, each thread writes its own matrices and its own chunks'
/// outputs, and uses its own stream and memory objects.
final class WinogradConvolution: HostKernel, @unchecked Sendable {
    /// How the tiles are cut into chunks.
    struct Geometry {
        let input: Shape4
        let outputs: Int
        let tiles: Int
        let chunkTiles: Int
        let chunks: Int
        /// Bytes of an input matrix's element (the map's type); the products are float32.
        let inputElementBytes: Int

        /// A chunk's matrices (input and product) within this many bytes, where that
        /// leaves at least `minimumRows` rows: fewer rows would read the transformed
        /// weights again too often.
        static let chunkBytes = 1 << 20
        static let minimumRows = 128

        init(input: Shape4, outputs: Int, type: ElementType, threads: Int) {
            self.input = input
            self.outputs = outputs
            inputElementBytes = type.byteCount
            tiles = input.n * ((input.h + 1) / 2) * ((input.w + 1) / 2)
            let perTile = 16 * (input.c * inputElementBytes + outputs * 4)
            // A chunk for every thread, where there are tiles enough.
            let wanted = min((tiles + threads - 1) / threads, max(Self.minimumRows, Self.chunkBytes / perTile))
            chunks = (tiles + wanted - 1) / wanted
            chunkTiles = (tiles + chunks - 1) / chunks
        }

        /// Bytes from one matrix to the next for matrices of `bytes`: an odd number of 256-byte
        /// blocks, so that the 16 matrices a transform writes or reads side by side start in
        /// 16 different sets of the L1 cache. A multiple of 4 KB apart they would all share
        /// one set of 8 lines, and the transforms ran 2-3 times slower.
        static func planeBytes(_ bytes: Int) -> Int { ((bytes + 255) / 256 | 1) * 256 }

        /// The rows of chunk `index`.
        func rows(ofChunk index: Int) -> Int { min(chunkTiles, tiles - index * chunkTiles) }

        /// Every row count a product has: a whole chunk's, and the last chunk's.
        var productRows: Set<Int> { [rows(ofChunk: 0), rows(ofChunk: chunks - 1)] }

        /// Elements from one position's matrix to the next's.
        var inputPlane: Int { Self.planeBytes(chunkTiles * input.c * inputElementBytes) / inputElementBytes }
        var productPlane: Int { Self.planeBytes(chunkTiles * outputs * 4) / 4 }
        /// A chunk's 16 input matrices, then its 16 products.
        var inputBytes: Int { 16 * inputPlane * inputElementBytes }
        var matrixBytes: Int { inputBytes + 16 * productPlane * 4 }
    }

    /// What the plan makes before its arena is laid out: the matrix products (one per row
    /// count) and the transformed weights, packed as the products read them.
    struct Design {
        let geometry: Geometry
        /// The input map's type, which the input matrices and the products' operands take.
        let sourceType: ElementType
        let destinationType: ElementType
        let products: [Int: DNNLPrimitive]
        /// Per position, the weights [C, K] in the products' layout.
        let weights: [DNNLMemory]
        let bias: [Float]
        let relu: Bool
        let accumulate: Bool
        let sourceBlock: Int
        let destinationBlock: Int
        let scratchBytes: Int
        let threads: Int

        /// The arena bytes the convolution works in: each thread's matrices and scratchpad.
        var workspaceBytes: Int { threads * laneBytes }
        var laneBytes: Int { (geometry.matrixBytes + scratchBytes + 63) / 64 * 64 }
    }

    /// Whether `c` is a convolution this computes (the transforms work on eight channels
    /// at a time, in teams of GCC's OpenMP threads).
    static func suits(_ c: Graph.Convolution, inputChannels: Int, outputChannels: Int) -> Bool {
        c.kernel == (3, 3) && c.stride == 1 && c.padding == 1 && c.dilation == 1
            && inputChannels % 8 == 0 && outputChannels % 8 == 0 && OpenMP.hasTeams
    }

    /// The matrix products of `geometry`, made for one thread each (a team runs them side
    /// by side), and the weights layout they share.
    static func products(_ geometry: Geometry, type: ElementType, engine: DNNLEngine, threads: Int) throws(EngineError)
        -> (products: [Int: DNNLPrimitive], weights: DNNLMemoryDesc)
    {
        let (channels, outputs) = (geometry.input.c, geometry.outputs)
        // oneDNN sizes a primitive's work split for the team of the thread that makes it.
        OpenMP.setThreads(1)
        defer { OpenMP.setThreads(threads) }
        var made: [Int: DNNLPrimitive] = [:]
        var layout: DNNLMemoryDesc?
        for rows in geometry.productRows.sorted(by: >) {
            let source = try DNNLMemoryDesc([rows, channels], type, dnnl_ab)
            let weights = if let layout { layout } else { try DNNLMemoryDesc([channels, outputs], type, dnnl_format_tag_any) }
            let destination = try DNNLMemoryDesc([rows, outputs], .f32, dnnl_ab)
            let attributes = try DNNLAttributes()
            defer { withExtendedLifetime((source, weights, destination, attributes)) {} }
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_matmul_primitive_desc_create(
                    &pd, engine.engine, source.handle, weights.handle, nil, destination.handle, attributes.handle),
                "matmul (Winograd, \(rows) x \(channels) x \(outputs))")
            let primitive = try DNNLPrimitive(descriptor: pd!)
            if layout == nil { layout = try primitive.query(dnnl_query_weights_md) }
            made[rows] = primitive
        }
        return (made, layout!)
    }

    /// `weight` ([K, C, 3, 3]) transformed: per position of the 4x4 tile, a matrix [C, K].
    static func transformedWeights(_ weight: [Float], inputs: Int, outputs: Int) -> [[Float]] {
        let planes = [Float](unsafeUninitializedCapacity: 16 * inputs * outputs) { buffer, count in
            mgpr_winograd_f23_weights(weight, inputs, outputs, buffer.baseAddress!)
            count = buffer.count
        }
        return (0..<16).map { Array(planes[($0 * inputs * outputs)..<(($0 + 1) * inputs * outputs)]) }
    }

    private let design: Design
    private var input: mgpr_winograd_input_t
    private var output: mgpr_winograd_output_t
    private let bias: UnsafeMutableBufferPointer<Float>
    private let weights: [UnsafeMutableRawPointer]
    /// Per thread: its stream, and per row count the product's memory objects and arguments.
    private var lanes: [Lane] = []

    private final class Lane {
        let stream: dnnl_stream_t
        /// The chunk's 16 input matrices, then its 16 products.
        let matrices: UnsafeMutableRawPointer
        var arguments: [Int: (source: DNNLMemory, weights: DNNLMemory, destination: DNNLMemory, scratch: DNNLMemory, all: [dnnl_exec_arg_t])] = [:]
        var status = dnnl_success

        init(engine: DNNLEngine, matrices: UnsafeMutableRawPointer) throws(EngineError) {
            self.matrices = matrices
            var stream: dnnl_stream_t?
            try DNNL.check(dnnl_stream_create(&stream, engine.engine, UInt32(dnnl_stream_default_flags.rawValue)), "dnnl_stream_create")
            self.stream = stream!
        }

        deinit { dnnl_stream_destroy(stream) }
    }

    init(_ design: Design, source: UnsafeMutableRawPointer, destination: UnsafeMutableRawPointer,
         workspace: UnsafeMutableRawPointer, engine: DNNLEngine) throws(EngineError) {
        self.design = design
        let geometry = design.geometry, shape = geometry.input
        bias = .allocate(capacity: design.bias.count)
        _ = bias.initialize(from: design.bias)
        input = mgpr_winograd_input_t(
            source: source, channels: shape.c, block: design.sourceBlock, height: shape.h, width: shape.w,
            bf16: design.sourceType == .bf16 ? 1 : 0)
        output = mgpr_winograd_output_t(
            destination: destination, channels: geometry.outputs, block: design.destinationBlock, height: shape.h,
            width: shape.w, bias: UnsafePointer(bias.baseAddress!), accumulate: design.accumulate ? 1 : 0,
            relu: design.relu ? 1 : 0, bf16: design.destinationType == .bf16 ? 1 : 0)
        weights = design.weights.map { $0.pointer! }
        for thread in 0..<design.threads {
            let start = workspace + thread * design.laneBytes
            let lane = try Lane(engine: engine, matrices: start)
            let scratchAt = start + geometry.matrixBytes
            for (rows, product) in design.products {
                let source = try DNNLMemory(try product.query(dnnl_query_src_md), engine, pointer: workspace)
                let weights = try DNNLMemory(try product.query(dnnl_query_weights_md), engine, pointer: design.weights[0].pointer!)
                let destination = try DNNLMemory(try product.query(dnnl_query_dst_md), engine, pointer: workspace)
                let scratch = try DNNLMemory(try product.query(dnnl_query_scratchpad_md), engine, pointer: scratchAt)
                lane.arguments[rows] = (source, weights, destination, scratch, [
                    dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: source.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: destination.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratch.handle),
                ])
            }
            lanes.append(lane)
        }
    }

    deinit { bias.deallocate() }

    func run() throws {
        let geometry = design.geometry
        OpenMP.team(design.threads) { thread, count in
            let lane = lanes[thread]
            for chunk in stride(from: thread, to: geometry.chunks, by: count) where lane.status == dnnl_success {
                let first = chunk * geometry.chunkTiles, rows = geometry.rows(ofChunk: chunk)
                mgpr_winograd_f23_input(&input, first, rows, lane.matrices, geometry.inputPlane)
                for position in 0..<16 where lane.status == dnnl_success { multiply(lane, position: position, rows: rows) }
                mgpr_winograd_f23_output(
                    &output, (lane.matrices + geometry.inputBytes).assumingMemoryBound(to: Float.self), geometry.productPlane,
                    first, rows)
            }
        }
        for lane in lanes where lane.status != dnnl_success {
            throw EngineError.backend(call: "dnnl_primitive_execute (Winograd)", status: String(cString: dnnl_status2str(lane.status)))
        }
    }

    /// One product: the first `rows` rows of position `position`'s input matrix times its
    /// weights.
    private func multiply(_ lane: Lane, position: Int, rows: Int) {
        let geometry = design.geometry
        let (product, arguments) = (design.products[rows]!, lane.arguments[rows]!)
        let source = lane.matrices + position * geometry.inputPlane * geometry.inputElementBytes
        let destination = lane.matrices + geometry.inputBytes + position * geometry.productPlane * 4
        var status = dnnl_memory_set_data_handle(arguments.source.handle, source)
        if status == dnnl_success { status = dnnl_memory_set_data_handle(arguments.weights.handle, weights[position]) }
        if status == dnnl_success { status = dnnl_memory_set_data_handle(arguments.destination.handle, destination) }
        if status == dnnl_success {
            status = arguments.all.withUnsafeBufferPointer {
                dnnl_primitive_execute(product.primitive, lane.stream, Int32($0.count), $0.baseAddress)
            }
        }
        lane.status = status
    }
}
