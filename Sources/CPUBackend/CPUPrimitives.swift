internal import CDNNL
import Engine
import Weights

/// What a primitive's argument is: a value, which lives in the arena and is bound once
/// the arena is planned, or memory of its own (packed weights, a bias).
enum PrimitiveArgument {
    case value(Int)
    case memory(DNNLMemory)
}

/// Makes the oneDNN primitive of each op and, as it goes, the layout of each value.
/// In float32, oneDNN chooses the layout: the one it asks of a typical convolution's
/// input when free to choose (`format_tag_any`); on AVX-512 a blocked one (16 channels
/// together, `nChw16c`), on AVX2 8 together. In bf16 it is plain NHWC, where oneDNN's
/// brgemm kernels are: the blocked bf16 layouts it would choose are no faster here
/// (ResNet50 at 224 and 1024 px, batch 1 and 8, within 1%) and their kernels round more
/// (ResNet50's top-1 agreement with float64 fell by 2 of 100).
/// Every value a primitive writes takes that layout, and ops read values as they were
/// written, so no reorder runs between primitives. Three things pin a layout: the host
/// kernels read and write plain NHWC float32; a convolution that adds a residual writes
/// into the residual's buffer, so in its layout; and a value nothing writes before its
/// first reader (the graph's input) takes the layout that reader asks for, a bf16 copy
/// of a float32 value its original's.
final class CPUPrimitives {
    private let engine: DNNLEngine
    private let shapes: [Shape4]
    private let types: [ElementType]
    /// Per value, the value whose buffer it shares (a residual's output shares its input's).
    private let root: [Int]
    /// Buffers that must be plain NHWC: the host kernels read them.
    private let plainRoots: Set<Int>
    /// `[N, features]` values (linear layers' outputs), plain `nc`.
    private let linearOutputs: Set<Int>
    /// Per bf16 copy of a float32 value, the value it copies.
    private let copies: [Int: Int]
    /// Each value's layout, once chosen.
    private var layouts: [DNNLMemoryDesc?]
    /// The layout of the values primitives write.
    private let preferred: dnnl_format_tag_t
    /// Packed weights and biases, kept alive with the plan.
    private(set) var ownMemories: [DNNLMemory] = []
    private(set) var weightBytes = 0
    /// A convolution's packed weights and bias by the keys they are made from. Networks
    /// that run one convolution on several maps (RetinaNet's heads, on five pyramid
    /// levels) keep one copy where the primitives chose one layout: RetinaNet's float32
    /// weights take 130 MB rather than 235.
    private var packedConvolutions: [String: [(weights: DNNLMemory, bias: DNNLMemory)]] = [:]
    private var packedWinograds: [String: [(planes: [DNNLMemory], bias: [Float])]] = [:]

    init(
        engine: DNNLEngine, shapes: [Shape4], types: [ElementType], root: [Int], plainRoots: Set<Int>, linearOutputs: Set<Int>,
        copies: [Int: Int], type: ElementType
    ) throws(EngineError) {
        (self.engine, self.shapes, self.types, self.root) = (engine, shapes, types, root)
        (self.plainRoots, self.linearOutputs, self.copies) = (plainRoots, linearOutputs, copies)
        layouts = Array(repeating: nil, count: shapes.count)
        preferred = type == .f32 ? try Self.preferredLayout(type, engine: engine) : dnnl_nhwc
    }

    /// What oneDNN asks of the input of a 3x3 convolution of 64 channels in `type` when it
    /// may choose; plain NHWC if that is none of the layouts mgpr names.
    private static func preferredLayout(_ type: ElementType, engine: DNNLEngine) throws(EngineError) -> dnnl_format_tag_t {
        let dims = [1, 64, 56, 56]
        let source = try DNNLMemoryDesc(dims, type, dnnl_format_tag_any)
        let weights = try DNNLMemoryDesc([64, 64, 3, 3], type, dnnl_format_tag_any)
        let bias = try DNNLMemoryDesc([64], .f32, dnnl_a)
        let attributes = try DNNLAttributes()
        defer { withExtendedLifetime((source, weights, bias, attributes)) {} }
        let one: [Int64] = [1, 1], zero: [Int64] = [0, 0]
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(
            dnnl_convolution_forward_primitive_desc_create(
                &pd, engine.engine, dnnl_forward_inference, dnnl_convolution_auto, source.handle, weights.handle, bias.handle,
                source.handle, one, zero, one, one, attributes.handle),
            "convolution (layout probe)")
        let chosen = try DNNLPrimitive(descriptor: pd!).query(dnnl_query_src_md)
        return try tag(of: chosen, dims: dims, type: type) ?? dnnl_nhwc
    }

    /// The name of `layout` (of a value of `dims`) among the layouts oneDNN's convolutions
    /// use; nil for another.
    private static func tag(of layout: DNNLMemoryDesc, dims: [Int], type: ElementType) throws(EngineError) -> dnnl_format_tag_t? {
        for tag in [dnnl_nhwc, dnnl_nChw16c, dnnl_nChw8c, dnnl_nchw] {
            let candidate = try DNNLMemoryDesc(dims, type, tag)
            if dnnl_memory_desc_equal(candidate.handle, layout.handle) != 0 { return tag }
        }
        return nil
    }

    /// The layout of `value`: the chosen one, or plain if nothing chose one (a value no
    /// primitive reads or writes, the graph's input when a host kernel reads it first).
    func layout(_ value: Int) throws(EngineError) -> DNNLMemoryDesc {
        if let chosen = layouts[value] { return chosen }
        let plain = try plainLayout(value)
        layouts[value] = plain
        return plain
    }

    /// The host kernels' layout for a value they write.
    func setPlain(_ value: Int) throws(EngineError) { layouts[value] = try plainLayout(value) }

    private func plainLayout(_ value: Int) throws(EngineError) -> DNNLMemoryDesc {
        linearOutputs.contains(value)
            ? try DNNLMemoryDesc([shapes[value].n, shapes[value].c], .f32, dnnl_nc)
            : try DNNLMemoryDesc(shapes[value].dims, types[value], dnnl_nhwc)
    }

    /// What a primitive is asked to write to `value`: its layout if chosen, plain if it
    /// must be, otherwise the preferred one.
    private func request(_ value: Int) throws(EngineError) -> DNNLMemoryDesc {
        if let chosen = layouts[value] { return chosen }
        if plainRoots.contains(root[value]) || linearOutputs.contains(value) { return try plainLayout(value) }
        return try DNNLMemoryDesc(shapes[value].dims, types[value], preferred)
    }

    /// What a convolution is asked to read from `value`: its layout if chosen; for a value
    /// nothing has written yet, its original's layout if it is a copy in another type (the
    /// copy is then a plain conversion), else plain if it must be, else oneDNN's choice
    /// (the first convolution reads three channels, which no blocked layout suits).
    private func requestSource(_ value: Int) throws(EngineError) -> DNNLMemoryDesc {
        if let chosen = layouts[value] { return chosen }
        if let original = copies[value], let layout = layouts[original],
            let tag = try Self.tag(of: layout, dims: shapes[value].dims, type: layout.type) {
            return try DNNLMemoryDesc(shapes[value].dims, types[value], tag)
        }
        if plainRoots.contains(root[value]) { return try plainLayout(value) }
        return try DNNLMemoryDesc(shapes[value].dims, types[value], dnnl_format_tag_any)
    }

    /// Records what the primitive chose for `value`, where nothing had been chosen.
    private func settle(_ value: Int, _ primitive: DNNLPrimitive, _ query: dnnl_query_t) throws(EngineError) {
        if layouts[value] == nil { layouts[value] = try primitive.query(query) }
    }

    /// The primitive for one op; `input` is the value it reads (a bf16 copy of the graph's
    /// value where one was made). Weights take the type of what they meet.
    func build(_ op: Graph.Op, input: Int, weights: WeightStore) throws -> (DNNLPrimitive, [(Int32, PrimitiveArgument)]) {
        switch op {
        case .convolution(let c):
            let out = shapes[c.output.id].c, inChannels = shapes[input].c
            let weightDims = [out, inChannels, c.kernel.h, c.kernel.w]
            let source = try requestSource(input)
            // A residual's sum post-op accumulates in the residual's buffer, so in its layout.
            let destination = try c.residual.map { r throws(EngineError) in try layout(r.id) } ?? request(c.output.id)
            let wAny = try DNNLMemoryDesc(weightDims, types[input], dnnl_format_tag_any)
            let bias = try DNNLMemoryDesc([out], .f32, dnnl_a)
            let strides: [Int64] = [Int64(c.stride), Int64(c.stride)]
            let dilates: [Int64] = [Int64(c.dilation - 1), Int64(c.dilation - 1)]
            let pad: [Int64] = [Int64(c.padding), Int64(c.padding)]
            let attributes = try DNNLAttributes(sum: c.residual != nil, relu: c.relu)
            defer { withExtendedLifetime((source, destination, wAny, bias, attributes)) {} }
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_convolution_forward_primitive_desc_create(
                    &pd, engine.engine, dnnl_forward_inference, dnnl_convolution_auto, source.handle, wAny.handle,
                    bias.handle, destination.handle, strides, dilates, pad, pad, attributes.handle),
                "convolution \(c.weight)")
            let primitive = try DNNLPrimitive(descriptor: pd!)
            try settle(input, primitive, dnnl_query_src_md)
            if let r = c.residual { layouts[c.output.id] = try layout(r.id) } else { try settle(c.output.id, primitive, dnnl_query_dst_md) }
            let packed = try packedConvolution(c, dims: weightDims, into: try primitive.query(dnnl_query_weights_md), weights: weights)
            return (primitive, [
                (DNNL_ARG_SRC, .value(input)), (DNNL_ARG_WEIGHTS, .memory(packed.weights)),
                (DNNL_ARG_BIAS, .memory(packed.bias)), (DNNL_ARG_DST, .value(c.output.id)),
            ])

        case .pool(let p):
            let strides: [Int64] = [Int64(p.stride), Int64(p.stride)], kernel: [Int64] = [Int64(p.kernel.h), Int64(p.kernel.w)]
            let pad: [Int64] = [Int64(p.padding), Int64(p.padding)], dilation: [Int64] = [0, 0]
            let algorithm = p.kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding
            let (source, destination, attributes) = (try layout(p.input.id), try request(p.output.id), try DNNLAttributes())
            defer { withExtendedLifetime((source, destination, attributes)) {} }
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_pooling_forward_primitive_desc_create(
                    &pd, engine.engine, dnnl_forward_inference, algorithm, source.handle, destination.handle, strides, kernel,
                    dilation, pad, pad, attributes.handle),
                "pooling")
            let primitive = try DNNLPrimitive(descriptor: pd!)
            try settle(p.output.id, primitive, dnnl_query_dst_md)
            return (primitive, [(DNNL_ARG_SRC, .value(p.input.id)), (DNNL_ARG_DST, .value(p.output.id))])

        case .upsample(let u):
            let factors: [Float] = [Float(u.factor), Float(u.factor)]
            let (source, destination, attributes) = (try layout(u.input.id), try request(u.output.id), try DNNLAttributes())
            defer { withExtendedLifetime((source, destination, attributes)) {} }
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_resampling_forward_primitive_desc_create(
                    &pd, engine.engine, dnnl_forward_inference, dnnl_resampling_nearest, factors, source.handle,
                    destination.handle, attributes.handle),
                "resampling")
            let primitive = try DNNLPrimitive(descriptor: pd!)
            try settle(u.output.id, primitive, dnnl_query_dst_md)
            return (primitive, [(DNNL_ARG_SRC, .value(u.input.id)), (DNNL_ARG_DST, .value(u.output.id))])

        case .concat(let c):
            preconditionFailure("concatenation \(c.output.id) is built by concat(_:into:), which takes every input")

        case .linear(let l):
            let source = try layout(input)
            let dims = shapes[input], out = shapes[l.output.id].c
            // A [N, features] input (another linear layer's output) takes [out, in] weights;
            // a feature map takes [out, c, h, w], PyTorch's flattening order in oihw.
            let flat = linearOutputs.contains(input)
            let weightDims = flat ? [out, dims.c] : [out, dims.c, dims.h, dims.w]
            let wAny = try DNNLMemoryDesc(weightDims, types[input], dnnl_format_tag_any)
            let bias = try DNNLMemoryDesc([out], .f32, dnnl_a)
            let (destination, attributes) = (try layout(l.output.id), try DNNLAttributes(relu: l.relu))
            defer { withExtendedLifetime((source, destination, wAny, bias, attributes)) {} }
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_inner_product_forward_primitive_desc_create(
                    &pd, engine.engine, dnnl_forward_inference, source.handle, wAny.handle, bias.handle,
                    destination.handle, attributes.handle),
                "inner product \(l.weight)")
            let primitive = try DNNLPrimitive(descriptor: pd!)
            let packed = try pack(
                weights[l.weight]!.values, dims: weightDims, tag: flat ? dnnl_ab : dnnl_oihw,
                into: try primitive.query(dnnl_query_weights_md))
            let biasValues = l.bias.map { weights[$0]!.values } ?? [Float](repeating: 0, count: out)
            return (primitive, [
                (DNNL_ARG_SRC, .value(input)), (DNNL_ARG_WEIGHTS, .memory(packed)),
                (DNNL_ARG_BIAS, .memory(try biasMemory(biasValues))), (DNNL_ARG_DST, .value(l.output.id)),
            ])

        case .groupNorm, .resize:
            preconditionFailure("\(op) runs as a host kernel")
        }
    }

    /// Convolution `c` by Winograd's F(2x2, 3x3) where it suits (``WinogradConvolution``)
    /// and the values it reads and writes are float32 or bf16 in layouts its transforms know
    /// (a channel-blocked one or plain NHWC), whose layouts it then settles; nil otherwise,
    /// with nothing settled, and the convolution is built as a primitive.
    func winograd(_ c: Graph.Convolution, input: Int, weights: WeightStore, threads: Int) throws -> WinogradConvolution.Design? {
        let (channels, outputs) = (shapes[input].c, shapes[c.output.id].c)
        let (type, outputType) = (types[input], types[c.output.id])
        // Its bf16 rounding is AVX512-BF16's instruction, which a bf16 plan's CPU has.
        guard WinogradConvolution.suits(c, inputChannels: channels, outputChannels: outputs),
            [.f32, .bf16].contains(type), [.f32, .bf16].contains(outputType),
            type == .f32 && outputType == .f32 || DNNL.hasNativeBF16
        else { return nil }
        let source = try layouts[input] ?? request(input)
        let destination = try c.residual.map { r throws(EngineError) in try layout(r.id) } ?? request(c.output.id)
        guard let sourceBlock = try block(of: source, value: input), let destinationBlock = try block(of: destination, value: c.output.id)
        else { return nil }
        layouts[input] = source
        layouts[c.output.id] = destination

        let geometry = WinogradConvolution.Geometry(input: shapes[input], outputs: outputs, type: type, threads: threads)
        let (products, weightsLayout) = try WinogradConvolution.products(geometry, type: type, engine: engine, threads: threads)
        let (planes, bias) = try packedWinograd(c, inputs: channels, outputs: outputs, into: weightsLayout, weights: weights)
        var scratchBytes = 0
        for product in products.values { scratchBytes = max(scratchBytes, try product.query(dnnl_query_scratchpad_md).byteCount) }
        return WinogradConvolution.Design(
            geometry: geometry, sourceType: type, destinationType: outputType, products: products, weights: planes, bias: bias, relu: c.relu, accumulate: c.residual != nil,
            sourceBlock: sourceBlock, destinationBlock: destinationBlock, scratchBytes: (scratchBytes + 63) / 64 * 64,
            threads: threads)
    }

    /// Channels per block of `layout` (plain NHWC is one block of all of them), if it is
    /// one the Winograd transforms read and write: blocks that the channels fill (a
    /// padded block's padding must stay zero for the primitives that read it).
    private func block(of layout: DNNLMemoryDesc, value: Int) throws(EngineError) -> Int? {
        let channels = shapes[value].c
        let block: Int? = switch try Self.tag(of: layout, dims: shapes[value].dims, type: types[value]) {
        case dnnl_nhwc: channels
        case dnnl_nChw16c: 16
        case dnnl_nChw8c: 8
        default: nil
        }
        return block.flatMap { channels % $0 == 0 ? $0 : nil }
    }

    /// `torch.cat(dim=1)` of `inputs` (all in one type) into `output`, in a layout
    /// oneDNN chooses from the inputs'.
    func concat(_ inputs: [Int], into output: Int) throws(EngineError) -> (DNNLPrimitive, [(Int32, PrimitiveArgument)]) {
        let attributes = try DNNLAttributes()
        var sourceLayouts: [DNNLMemoryDesc] = []
        for input in inputs { sourceLayouts.append(try layout(input)) }
        let sources: [const_dnnl_memory_desc_t?] = sourceLayouts.map { $0.handle }
        let destination = try request(output)
        defer { withExtendedLifetime((sourceLayouts, destination, attributes)) {} }
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(
            dnnl_concat_primitive_desc_create(
                &pd, engine.engine, destination.handle, Int32(inputs.count), 1, sources, attributes.handle),
            "concat")
        let primitive = try DNNLPrimitive(descriptor: pd!)
        try settle(output, primitive, dnnl_query_dst_md)
        let arguments = inputs.enumerated().map { (DNNL_ARG_MULTIPLE_SRC + Int32($0), PrimitiveArgument.value($1)) }
        return (primitive, arguments + [(DNNL_ARG_DST, .value(output))])
    }

    /// A reorder between two layouts (types may differ too).
    func reorder(_ from: DNNLMemoryDesc, _ to: DNNLMemoryDesc) throws(EngineError) -> DNNLPrimitive {
        let attributes = try DNNLAttributes()
        defer { withExtendedLifetime(attributes) {} }
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(
            dnnl_reorder_primitive_desc_create(&pd, from.handle, engine.engine, to.handle, engine.engine, attributes.handle),
            "dnnl_reorder_primitive_desc_create")
        return try DNNLPrimitive(descriptor: pd!)
    }

    /// A convolution's weights (BatchNorm folded in) packed in the layout its primitive
    /// chose, and its bias: made once for every convolution that reads the same keys.
    private func packedConvolution(
        _ c: Graph.Convolution, dims: [Int], into layout: DNNLMemoryDesc, weights: WeightStore
    ) throws -> (weights: DNNLMemory, bias: DNNLMemory) {
        let key = [c.weight, c.bias ?? "", c.batchNorm.map { "\($0.prefix) \($0.eps)" } ?? ""].joined(separator: "|")
        if let made = packedConvolutions[key]?.first(where: { dnnl_memory_desc_equal($0.weights.desc.handle, layout.handle) != 0 }) {
            return made
        }
        let folded = BatchNormFolding.fold(
            weight: weights[c.weight]!.values, bias: c.bias.map { weights[$0]!.values }, outChannels: dims[0],
            batchNorm: c.batchNorm, weights: weights)
        let made = (weights: try pack(folded.weight, dims: dims, tag: dnnl_oihw, into: layout), bias: try biasMemory(folded.bias))
        packedConvolutions[key, default: []].append(made)
        return made
    }

    /// A convolution's Winograd weights (BatchNorm folded in, transformed, one matrix per
    /// tile position, packed in `layout`) and its bias: made once for every convolution
    /// that reads the same keys, as ``packedConvolution`` is.
    private func packedWinograd(
        _ c: Graph.Convolution, inputs: Int, outputs: Int, into layout: DNNLMemoryDesc, weights: WeightStore
    ) throws -> (planes: [DNNLMemory], bias: [Float]) {
        let key = [c.weight, c.bias ?? "", c.batchNorm.map { "\($0.prefix) \($0.eps)" } ?? ""].joined(separator: "|")
        if let made = packedWinograds[key]?.first(where: { dnnl_memory_desc_equal($0.planes[0].desc.handle, layout.handle) != 0 }) {
            return made
        }
        let folded = BatchNormFolding.fold(
            weight: weights[c.weight]!.values, bias: c.bias.map { weights[$0]!.values }, outChannels: outputs,
            batchNorm: c.batchNorm, weights: weights)
        let planes = try WinogradConvolution.transformedWeights(folded.weight, inputs: inputs, outputs: outputs).map { plane in
            try pack(plane, dims: [inputs, outputs], tag: dnnl_ab, into: layout)
        }
        let made = (planes: planes, bias: folded.bias)
        packedWinograds[key, default: []].append(made)
        return made
    }

    /// Runs a one-off reorder now (packing weights).
    private func pack(_ values: [Float], dims: [Int], tag: dnnl_format_tag_t, into desc: DNNLMemoryDesc) throws -> DNNLMemory {
        let packed = try DNNLMemory(desc, engine, pointer: nil)
        // Read in place (a reorder never writes its source): a mutable copy would be a
        // third transient copy of the layer's weights.
        try values.withUnsafeBytes { raw in
            let user = try DNNLMemory(try DNNLMemoryDesc(dims, .f32, tag), engine, pointer: UnsafeMutableRawPointer(mutating: raw.baseAddress!))
            var plainAttr: dnnl_primitive_attr_t?
            try DNNL.check(dnnl_primitive_attr_create(&plainAttr), "dnnl_primitive_attr_create")
            defer { dnnl_primitive_attr_destroy(plainAttr) }
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_reorder_primitive_desc_create(&pd, user.desc.handle, engine.engine, desc.handle, engine.engine, plainAttr),
                "reorder (weights)")
            let primitive = try DNNLPrimitive(descriptor: pd!)
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: user.handle), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: packed.handle)]
            try DNNL.check(dnnl_primitive_execute(primitive.primitive, engine.stream, 2, &args), "dnnl_primitive_execute (weights)")
            try DNNL.check(dnnl_stream_wait(engine.stream), "dnnl_stream_wait")
        }
        ownMemories.append(packed)
        weightBytes += packed.byteCount
        return packed
    }

    private func biasMemory(_ bias: [Float]) throws -> DNNLMemory {
        let memory = try DNNLMemory(try DNNLMemoryDesc([bias.count], .f32, dnnl_a), engine, pointer: nil)
        bias.withUnsafeBytes { memory.pointer!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        ownMemories.append(memory)
        weightBytes += memory.byteCount
        return memory
    }
}
