import CUDA
import Engine
import Weights

/// A graph compiled for one GPU: cuDNN convolutions and pooling, NVRTC kernels for the
/// rest, every intermediate value in one device arena planned by lifetimes, weights
/// uploaded once. `run` copies the batch in, queues every step on the plan's stream,
/// and copies back only the graph's outputs.
final class CUDAPlan: Plan {
    private enum Step {
        case kernel(KernelLaunch)
        case convolution(Convolution)
        case pooling(Pooling)
    }

    private struct Convolution {
        var x, w, y, descriptor: OpaquePointer?
        var algorithm: Int32
        var input, weight, output: UInt64
        /// 1 where the output already holds a residual to add to (in place), else 0.
        var accumulate: Bool
        var name: String
        /// Bias and ReLU done by cuDNN in the same call (y = relu(conv + residual + bias)),
        /// where it supports this convolution; else a kernel follows.
        var fused: (bias: OpaquePointer?, address: UInt64, activation: OpaquePointer?)?
    }

    private struct Pooling {
        var x, y, descriptor: OpaquePointer?
        var input, output: UInt64
    }

    let inputShape: Shape4
    let outputShapes: [Shape4]
    let type: ElementType
    private let device: CUDADevice
    private let cudnn: CUDNN
    private let handle: OpaquePointer
    /// Held for as long as the plan lives: its steps queue on it.
    let stream: CUDAStream
    private var steps: [Step] = []
    private var buffers: [DeviceBuffer] = []
    private var tensorDescriptors: [OpaquePointer?] = []
    private var filterDescriptors: [OpaquePointer?] = []
    private var convolutionDescriptors: [OpaquePointer?] = []
    private var poolingDescriptors: [OpaquePointer?] = []
    private var activationDescriptors: [OpaquePointer?] = []
    private let inputStaging: DeviceBuffer
    private let outputStaging: DeviceBuffer
    /// Pinned memory the outputs come back through, made by the first `run` (a plan
    /// whose outputs stay on the device never needs it).
    private var hostOutputs: PinnedBuffer?
    private let outputOffsets: [Int]
    private var workspace: DeviceBuffer?
    private let scalars: UnsafeMutablePointer<Float>  // 1, 0

    var memoryBytes: Int { buffers.reduce(0) { $0 + $1.bytes } + (workspace?.bytes ?? 0) }

    /// - Parameter stream: the stream to queue on; nil: the plan's own.
    init(
        graph: Graph, weights: WeightStore, type: ElementType, tf32: Bool, device: CUDADevice, module: KernelModule,
        choices: AlgorithmChoices, stream given: CUDAStream? = nil
    ) throws {
        self.type = type
        self.device = device
        inputShape = graph.shape(of: graph.input)
        outputShapes = graph.outputs.map(graph.shape(of:))
        cudnn = try device.cuda.cudnn()
        scalars = .allocate(capacity: 2)
        scalars[0] = 1
        scalars[1] = 0
        try device.makeCurrent()
        let stream = try given ?? CUDAStream(device: device)
        self.stream = stream
        var handle: OpaquePointer?
        try cudnn.check(cudnn.cudnnCreate(&handle), "cudnnCreate")
        self.handle = handle!
        try cudnn.check(cudnn.cudnnSetStream(handle, stream.handle), "cudnnSetStream")

        // Memory: every value NHWC in `type`, placed in one arena by lifetime. A
        // convolution with a residual writes over it (cuDNN's beta = 1), so the two share.
        // A 16-bit input with few channels (RGB) is padded with zero channels to 8, the
        // tensor cores' width, where only convolutions read it.
        let size = type.byteCount
        var shapes = graph.shapes
        let onlyConvolved = graph.ops.allSatisfy { op in
            if case .convolution(let c) = op { return c.residual != graph.input }
            return !op.inputs.contains(graph.input)
        }
        if type != .f32, inputShape.c % 8 != 0, onlyConvolved {
            shapes[graph.input.id].c = (inputShape.c + 7) / 8 * 8
        }
        let paddedInput = shapes[graph.input.id]
        var root = Array(graph.shapes.indices)
        for op in graph.ops {
            if case .convolution(let c) = op, let r = c.residual { root[c.output.id] = root[r.id] }
        }
        var reads: [[Int]] = [[]], writes: [[Int]] = [[graph.input.id]]
        for op in graph.ops {
            reads.append(op.reads.map(\.id))
            writes.append([op.output.id])
        }
        for output in graph.outputs {
            reads.append([output.id])
            writes.append([])
        }
        let (first, last) = ArenaPlanner.lifetimes(reads: reads, writes: writes, root: root)
        let roots = Array(Set(root).filter { last[$0] >= 0 }).sorted()
        let (offsets, arenaSize) = ArenaPlanner.plan(
            roots.map { ArenaPlanner.Request(size: shapes[$0].count * size, first: first[$0], last: last[$0]) }, alignment: 256)
        let arena = try device.allocate(arenaSize)
        buffers.append(arena)
        var offsetOf: [Int: Int] = [:]
        for (i, r) in roots.enumerated() { offsetOf[r] = offsets[i] }
        func address(_ value: Graph.Value) -> UInt64 { arena.address + UInt64(offsetOf[root[value.id]]!) }

        inputStaging = try device.allocate(inputShape.count * 4)
        buffers.append(inputStaging)
        var outputOffsets: [Int] = [], total = 0
        for shape in outputShapes {
            outputOffsets.append(total)
            total += (shape.count * 4 + 255) / 256 * 256
        }
        self.outputOffsets = outputOffsets
        outputStaging = try device.allocate(total)
        buffers.append(outputStaging)

        // The input: normalised and turned NHWC in `type` on the device.
        var scaling: UInt64 = 0
        if let s = graph.inputScaling {
            let buffer = try upload(s.scale + s.shift)
            scaling = buffer.address
        }
        steps.append(.kernel(KernelLaunch(module, "mgpr_input", device: device, count: paddedInput.count, [
            .address(inputStaging.address), .address(address(graph.input)), .address(scaling),
            .address(scaling == 0 ? 0 : scaling + UInt64(inputShape.c * 4)), .int(Int32(inputShape.c)),
            .int(Int32(paddedInput.c)), .long(Int64(inputShape.h * inputShape.w)), .long(Int64(paddedInput.count)),
        ])))

        var workspaceBytes = 0
        let search = try AlgorithmSearch(device: device, choices: choices)
        defer { choices.save() }
        for op in graph.ops {
            switch op {
            case .convolution(let c):
                let folded = BatchNormFolding.fold(
                    weight: weights[c.weight]!.values, bias: c.bias.map { weights[$0]!.values },
                    outChannels: graph.shape(of: c.output).c, batchNorm: c.batchNorm, weights: weights)
                let input = shapes[c.input.id]
                let weight = input.c == graph.shape(of: c.input).c ? folded.weight : Self.padInputChannels(
                    folded.weight, out: graph.shape(of: c.output).c, from: graph.shape(of: c.input).c, to: input.c,
                    kernel: c.kernel.h * c.kernel.w)
                var (step, bytes) = try convolution(
                    name: c.weight, input: input, output: graph.shape(of: c.output), weight: weight,
                    kernel: c.kernel, stride: c.stride, padding: c.padding, dilation: c.dilation,
                    addresses: (address(c.input), address(c.output)), accumulate: c.residual != nil, tf32: tf32, search: search)
                workspaceBytes = max(workspaceBytes, bytes)
                if c.relu, let fused = try fuse(step, bias: folded.bias, channels: graph.shape(of: c.output).c, search: search, bytes: bytes) {
                    step.fused = fused
                    steps.append(.convolution(step))
                } else {
                    steps.append(.convolution(step))
                    steps.append(try biasActivation(module, address(c.output), graph.shape(of: c.output), folded.bias, relu: c.relu))
                }

            case .linear(let l):
                // A fully connected layer is a convolution whose kernel covers its whole
                // input: PyTorch's flattening order (c, h, w) is the filter's own.
                let input = graph.shape(of: l.input), output = graph.shape(of: l.output)
                let bias = l.bias.map { weights[$0]!.values } ?? [Float](repeating: 0, count: output.c)
                let (step, bytes) = try convolution(
                    name: l.weight, input: input, output: output, weight: weights[l.weight]!.values,
                    kernel: (input.h, input.w), stride: 1, padding: 0, dilation: 1,
                    addresses: (address(l.input), address(l.output)), accumulate: false, tf32: tf32, search: search)
                steps.append(.convolution(step))
                workspaceBytes = max(workspaceBytes, bytes)
                steps.append(try biasActivation(module, address(l.output), output, bias, relu: l.relu))

            case .pool(let p):
                steps.append(.pooling(try pooling(p, input: graph.shape(of: p.input), output: graph.shape(of: p.output),
                                                  addresses: (address(p.input), address(p.output)))))

            case .upsample(let u):
                let s = graph.shape(of: u.input), count = graph.shape(of: u.output).count
                steps.append(.kernel(KernelLaunch(module, "mgpr_upsample_nearest", device: device, count: count, [
                    .address(address(u.input)), .address(address(u.output)), .int(Int32(s.h)), .int(Int32(s.w)),
                    .int(Int32(s.c)), .int(Int32(u.factor)), .long(Int64(count)),
                ])))

            case .resize(let r):
                let (s, o) = (graph.shape(of: r.input), graph.shape(of: r.output))
                steps.append(.kernel(KernelLaunch(module, "mgpr_resize_bilinear", device: device, count: o.count, [
                    .address(address(r.input)), .address(address(r.output)), .int(Int32(s.h)), .int(Int32(s.w)),
                    .int(Int32(o.h)), .int(Int32(o.w)), .int(Int32(s.c)), .int(r.alignCorners ? 1 : 0), .long(Int64(o.count)),
                ])))

            case .concat(let c):
                // Each input copied into its channels of the output.
                let out = graph.shape(of: c.output)
                var first = 0
                for input in c.inputs {
                    let s = graph.shape(of: input)
                    steps.append(.kernel(KernelLaunch(module, "mgpr_copy_channels", device: device, count: s.count, [
                        .address(address(input)), .address(address(c.output)), .int(Int32(s.c)), .int(Int32(out.c)),
                        .int(Int32(first)), .long(Int64(s.count)),
                    ])))
                    first += s.c
                }

            case .groupNorm(let g):
                let s = graph.shape(of: g.input)
                let gamma = try upload(weights["\(g.prefix).weight"]!.values)
                let beta = try upload(weights["\(g.prefix).bias"]!.values)
                steps.append(.kernel(KernelLaunch(module, "mgpr_group_norm", device: device, blocks: s.n * g.groups, [
                    .address(address(g.input)), .address(address(g.output)), .address(gamma.address), .address(beta.address),
                    .long(Int64(s.h * s.w)), .int(Int32(s.c)), .int(Int32(g.groups)), .float(g.eps), .int(g.relu ? 1 : 0),
                ])))
            }
        }
        if workspaceBytes > 0 { workspace = try device.allocate(workspaceBytes) }

        // The outputs, NCHW float32, side by side in one staging buffer.
        for (k, output) in graph.outputs.enumerated() {
            let s = graph.shape(of: output)
            steps.append(.kernel(KernelLaunch(module, "mgpr_output", device: device, count: s.count, [
                .address(address(output)), .address(outputStaging.address + UInt64(outputOffsets[k])), .int(Int32(s.c)),
                .long(Int64(s.h * s.w)), .long(Int64(s.count)),
            ])))
        }
    }

    deinit {
        try? device.makeCurrent()
        try? stream.synchronize()
        tensorDescriptors.forEach { _ = cudnn.cudnnDestroyTensorDescriptor($0) }
        filterDescriptors.forEach { _ = cudnn.cudnnDestroyFilterDescriptor($0) }
        convolutionDescriptors.forEach { _ = cudnn.cudnnDestroyConvolutionDescriptor($0) }
        poolingDescriptors.forEach { _ = cudnn.cudnnDestroyPoolingDescriptor($0) }
        activationDescriptors.forEach { _ = cudnn.cudnnDestroyActivationDescriptor($0) }
        _ = cudnn.cudnnDestroy(handle)
        scalars.deallocate()
    }

    func run(input: HostBuffer, outputs: [HostBuffer]) throws {
        precondition(outputs.count == outputShapes.count, "\(outputs.count) output buffers for \(outputShapes.count) outputs")
        precondition(input.count >= inputShape.count, "an input of \(input.count) floats for \(inputShape)")
        for (buffer, shape) in zip(outputs, outputShapes) {
            precondition(buffer.count >= shape.count, "an output of \(buffer.count) floats for \(shape)")
        }
        try device.makeCurrent()
        let d = device.driver
        try input.withUnsafeBytes { input in
            try d.check(
                d.cuMemcpyHtoDAsync(inputStaging.address, input.baseAddress, inputShape.count * 4, stream.handle), "cuMemcpyHtoDAsync (batch)")
        }
        try enqueue()
        let bytes = outputStaging.bytes
        if hostOutputs == nil { hostOutputs = try PinnedBuffer(device: device, bytes: bytes) }
        let host = hostOutputs!.pointer
        try d.check(d.cuMemcpyDtoHAsync(host, outputStaging.address, bytes, stream.handle), "cuMemcpyDtoHAsync (outputs)")
        try stream.synchronize("GPU \(device.ordinal)")
        for (k, shape) in outputShapes.enumerated() {
            outputs[k].withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: host + outputOffsets[k], byteCount: shape.count * 4) }
        }
    }

    /// Where the plan reads its input: NCHW float32, `inputShape`.
    var inputAddress: UInt64 { inputStaging.address }

    /// Where output `k` is once the plan has run: NCHW float32, `outputShapes[k]`.
    func outputAddress(_ k: Int) -> UInt64 { outputStaging.address + UInt64(outputOffsets[k]) }

    /// Queues every step on the stream, from the input at `inputAddress` to the outputs
    /// at `outputAddress(_:)`, without copying or waiting: the caller's steps may follow
    /// on the same stream, and the whole may be captured as a CUDA graph.
    func enqueue() throws {
        try device.makeCurrent()
        let d = device.driver
        for step in steps {
            switch step {
            case .kernel(let launch):
                try launch.launch(d, stream: stream)
            case .convolution(let c):
                if let fused = c.fused {
                    try cudnn.check(
                        cudnn.cudnnConvolutionBiasActivationForward(
                            handle, scalars, c.x, pointer(c.input), c.w, pointer(c.weight), c.descriptor, c.algorithm,
                            workspace?.pointer, workspace?.bytes ?? 0, c.accumulate ? scalars : scalars + 1, c.y, pointer(c.output),
                            fused.bias, pointer(fused.address), fused.activation, c.y, pointer(c.output)),
                        "cudnnConvolutionBiasActivationForward (\(c.name))")
                    continue
                }
                try cudnn.check(
                    cudnn.cudnnConvolutionForward(
                        handle, scalars, c.x, pointer(c.input), c.w, pointer(c.weight), c.descriptor, c.algorithm,
                        workspace?.pointer, workspace?.bytes ?? 0, c.accumulate ? scalars : scalars + 1, c.y, pointer(c.output)),
                    "cudnnConvolutionForward (\(c.name))")
            case .pooling(let p):
                try cudnn.check(
                    cudnn.cudnnPoolingForward(handle, p.descriptor, scalars, p.x, pointer(p.input), scalars + 1, p.y, pointer(p.output)),
                    "cudnnPoolingForward")
            }
        }
    }

    private func pointer(_ address: UInt64) -> UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: UInt(address)) }

    /// OIHW weights with zero weights for the input's padding channels.
    static func padInputChannels(_ weight: [Float], out: Int, from: Int, to: Int, kernel: Int) -> [Float] {
        var padded = [Float](repeating: 0, count: out * to * kernel)
        for o in 0..<out {
            for i in 0..<from {
                for k in 0..<kernel { padded[(o * to + i) * kernel + k] = weight[(o * from + i) * kernel + k] }
            }
        }
        return padded
    }

    // MARK: - Building steps

    /// Float32 values into device memory.
    private func upload(_ values: [Float]) throws -> DeviceBuffer {
        try upload(bytes: values.withUnsafeBytes { [UInt8]($0) })
    }

    private func upload(bytes: [UInt8]) throws -> DeviceBuffer {
        let buffer = try device.allocate(bytes.count)
        let d = device.driver
        try bytes.withUnsafeBytes { raw in
            try d.check(d.cuMemcpyHtoDAsync(buffer.address, raw.baseAddress, raw.count, stream.handle), "cuMemcpyHtoDAsync (weights)")
            try stream.synchronize("weights")
        }
        buffers.append(buffer)
        return buffer
    }

    private func tensor(_ shape: Shape4) throws -> OpaquePointer? {
        var descriptor: OpaquePointer?
        try cudnn.check(cudnn.cudnnCreateTensorDescriptor(&descriptor), "cudnnCreateTensorDescriptor")
        tensorDescriptors.append(descriptor)
        try cudnn.check(
            cudnn.cudnnSetTensor4dDescriptor(
                descriptor, CUDNN.formatNHWC, type.cudnnDataType, Int32(shape.n), Int32(shape.c), Int32(shape.h), Int32(shape.w)),
            "cudnnSetTensor4dDescriptor(\(shape), \(type.rawValue))")
        return descriptor
    }

    private func biasActivation(_ module: KernelModule, _ output: UInt64, _ shape: Shape4, _ bias: [Float], relu: Bool) throws -> Step {
        let biasBuffer = try upload(bias)
        return .kernel(KernelLaunch(module, "mgpr_bias_act", device: device, count: shape.count, [
            .address(output), .address(biasBuffer.address), .int(Int32(shape.c)), .int(relu ? 1 : 0), .long(Int64(shape.count)),
        ]))
    }

    /// A convolution's descriptors, its weights uploaded as KRSC (NHWC filters) in
    /// `type`, and the fastest algorithm cuDNN measures for it; returns the workspace
    /// that algorithm needs.
    private func convolution(
        name: String, input: Shape4, output: Shape4, weight: [Float], kernel: (h: Int, w: Int), stride: Int, padding: Int,
        dilation: Int, addresses: (input: UInt64, output: UInt64), accumulate: Bool, tf32: Bool, search: AlgorithmSearch
    ) throws -> (Convolution, Int) {
        let (k, c, r, s) = (output.c, input.c, kernel.h, kernel.w)
        precondition(weight.count == k * c * r * s, "\(name): \(weight.count) weights for [\(k), \(c), \(r), \(s)]")
        var krsc = [Float](repeating: 0, count: weight.count)
        for o in 0..<k {
            for i in 0..<c {
                for y in 0..<r {
                    for x in 0..<s { krsc[((o * r + y) * s + x) * c + i] = weight[((o * c + i) * r + y) * s + x] }
                }
            }
        }
        let weightBuffer = try upload(bytes: HalfPrecision.bytes(krsc, as: type))

        var filter: OpaquePointer?
        try cudnn.check(cudnn.cudnnCreateFilterDescriptor(&filter), "cudnnCreateFilterDescriptor")
        filterDescriptors.append(filter)
        try cudnn.check(
            cudnn.cudnnSetFilter4dDescriptor(filter, type.cudnnDataType, CUDNN.formatNHWC, Int32(k), Int32(c), Int32(r), Int32(s)),
            "cudnnSetFilter4dDescriptor (\(name))")
        var descriptor: OpaquePointer?
        try cudnn.check(cudnn.cudnnCreateConvolutionDescriptor(&descriptor), "cudnnCreateConvolutionDescriptor")
        convolutionDescriptors.append(descriptor)
        try cudnn.check(
            cudnn.cudnnSetConvolution2dDescriptor(
                descriptor, Int32(padding), Int32(padding), Int32(stride), Int32(stride), Int32(dilation), Int32(dilation),
                CUDNN.crossCorrelation, CUDNN.dataFloat),
            "cudnnSetConvolution2dDescriptor (\(name))")
        // float32: TF32 tensor cores as PyTorch allows by default, or plain FMA when
        // tf32=false; 16-bit types: tensor cores, float32 accumulation.
        let math = type == .f32 ? (tf32 ? CUDNN.defaultMath : CUDNN.fmaMath) : CUDNN.tensorOpMath
        try cudnn.check(cudnn.cudnnSetConvolutionMathType(descriptor, math), "cudnnSetConvolutionMathType (\(name))")
        var step = Convolution(
            x: try tensor(input), w: filter, y: try tensor(output), descriptor: descriptor, algorithm: 0,
            input: addresses.input, weight: weightBuffer.address, output: addresses.output, accumulate: accumulate, name: name)
        let signature = "\(type.rawValue) math\(math) x\(input.n)x\(c)x\(input.h)x\(input.w) w\(k)x\(c)x\(r)x\(s) "
            + "pad\(padding) stride\(stride) dilation\(dilation) y\(output.h)x\(output.w)"
        let choice = try search.fastest(
            cudnn: cudnn, handle: handle, step: (step.x, step.input, step.w, step.weight, step.descriptor, step.y, step.output),
            signature: signature, name: name)
        step.algorithm = choice.algorithm
        return (step, choice.memory)
    }

    /// cuDNN's fused convolution + bias + ReLU for `step`, if it runs this convolution
    /// with the chosen algorithm: tried once now, with the bias in the data's type and
    /// then in float32; nil where neither runs, and a kernel then adds bias and ReLU.
    private func fuse(
        _ step: Convolution, bias: [Float], channels: Int, search: AlgorithmSearch, bytes: Int
    ) throws -> (bias: OpaquePointer?, address: UInt64, activation: OpaquePointer?)? {
        var activation: OpaquePointer?
        try cudnn.check(cudnn.cudnnCreateActivationDescriptor(&activation), "cudnnCreateActivationDescriptor")
        activationDescriptors.append(activation)
        try cudnn.check(cudnn.cudnnSetActivationDescriptor(activation, CUDNN.activationReLU, CUDNN.notPropagateNaN, 0),
                        "cudnnSetActivationDescriptor")
        for biasType in Set([type, .f32]).sorted(by: { $0 == type && $1 != type }) {
            var descriptor: OpaquePointer?
            try cudnn.check(cudnn.cudnnCreateTensorDescriptor(&descriptor), "cudnnCreateTensorDescriptor")
            tensorDescriptors.append(descriptor)
            try cudnn.check(
                cudnn.cudnnSetTensor4dDescriptor(descriptor, CUDNN.formatNHWC, biasType.cudnnDataType, 1, Int32(channels), 1, 1),
                "cudnnSetTensor4dDescriptor (bias)")
            let buffer = try upload(bytes: HalfPrecision.bytes(bias, as: biasType))
            let status = cudnn.cudnnConvolutionBiasActivationForward(
                handle, scalars, step.x, pointer(step.input), step.w, pointer(step.weight), step.descriptor, step.algorithm,
                search.scratch.pointer, bytes, step.accumulate ? scalars : scalars + 1, step.y, pointer(step.output),
                descriptor, buffer.pointer, activation, step.y, pointer(step.output))
            if status == 0 {
                try stream.synchronize(step.name)
                return (descriptor, buffer.address, activation)
            }
        }
        return nil
    }

    private func pooling(_ p: Graph.Pool, input: Shape4, output: Shape4, addresses: (input: UInt64, output: UInt64)) throws -> Pooling {
        var descriptor: OpaquePointer?
        try cudnn.check(cudnn.cudnnCreatePoolingDescriptor(&descriptor), "cudnnCreatePoolingDescriptor")
        poolingDescriptors.append(descriptor)
        try cudnn.check(
            cudnn.cudnnSetPooling2dDescriptor(
                descriptor, p.kind == .max ? CUDNN.poolingMax : CUDNN.poolingAverageExcludingPadding, CUDNN.notPropagateNaN,
                Int32(p.kernel.h), Int32(p.kernel.w), Int32(p.padding), Int32(p.padding), Int32(p.stride), Int32(p.stride)),
            "cudnnSetPooling2dDescriptor")
        return Pooling(x: try tensor(input), y: try tensor(output), descriptor: descriptor, input: addresses.input, output: addresses.output)
    }
}
