internal import CDNNL
import Engine
import Foundation
import Weights

/// A graph compiled for oneDNN on the CPU. Everything is made in `init`: primitives,
/// packed weights, the arena and the scratchpad; `run` only executes.
final class CPUPlan: Plan {
    enum Step {
        case primitive(DNNLPrimitive, args: [dnnl_exec_arg_t])
        /// Work oneDNN 3.2 has no primitive for, run between primitives.
        case kernel(any HostKernel)
    }

    let inputShape: Shape4
    let outputShapes: [Shape4]
    let threads: Int
    private let engine: DNNLEngine
    private var steps: [Step] = []
    /// Memory objects the steps refer to, kept alive with the plan.
    private var memories: [DNNLMemory] = []
    private var weightBytes = 0
    private let arena: UnsafeMutableRawBufferPointer
    private var scratchpad = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private let inputMemory: DNNLMemory
    private var outputMemories: [DNNLMemory] = []
    private var outputCopies: [(source: UnsafeRawPointer, bytes: Int)?] = []
    private var valueMemory: [Int: DNNLMemory] = [:]
    /// The graph's input normalisation, applied into `scaledInput` before the first step.
    private let inputScaling: Graph.InputScaling?
    private var scaledInput: [Float] = []

    var memoryBytes: Int { arena.count + scratchpad.count + weightBytes }

    init(graph: Graph, weights: WeightStore, type: ElementType, threads: Int) throws {
        self.threads = threads
        // oneDNN sizes each primitive's work split when it is created, from the calling
        // thread's OpenMP team size, and runs it with that many threads whatever the team
        // size is later: a plan built at the default (every core) ignores `threads`.
        OpenMP.setThreads(threads)
        engine = try DNNLEngine()
        inputShape = graph.shape(of: graph.input)
        outputShapes = graph.outputs.map(graph.shape(of:))
        inputScaling = graph.inputScaling
        if inputScaling != nil { scaledInput = [Float](repeating: 0, count: inputShape.count) }

        // Mixed precision as AMP does it: convolutions compute in `type`, but the residual
        // stream (what skip connections carry and sum into) stays float32, so 16 blocks of
        // additions do not accumulate bf16 rounding. A bf16 convolution reading an f32
        // value reads a bf16 copy made just before it ("shadow").
        let residualStream = Set(graph.ops.flatMap { op -> [Int] in
            if case .convolution(let c) = op, let r = c.residual { return [r.id, c.output.id] }
            return []
        })
        var types = graph.shapes.indices.map { residualStream.contains($0) ? ElementType.f32 : type }
        var shapes = graph.shapes
        var linearOutputs = Set<Int>()
        for op in graph.ops {
            switch op {
            case .pool(let p): types[p.output.id] = types[p.input.id]
            case .upsample(let u): if !residualStream.contains(u.output.id) { types[u.output.id] = types[u.input.id] }
            case .linear(let l): linearOutputs.insert(l.output.id); types[l.output.id] = .f32
            // The kernels read and write float32 (statistics need it); a bf16 convolution
            // after one reads a bf16 shadow, as it does from the residual stream.
            case .groupNorm(let g): types[g.input.id] = .f32; types[g.output.id] = .f32
            case .resize(let r): types[r.input.id] = .f32; types[r.output.id] = .f32
            case .concat(let c): types[c.output.id] = type
            case .convolution: break
            }
        }

        // The steps in order, with the values each reads and writes.
        enum Stage { case input, convert(from: Int, to: Int), op(Int), output(Int) }
        var logical: [Stage] = [.input]
        var reads: [[Int]] = [[]], writes: [[Int]] = [[graph.input.id]]
        var shadowOf: [Int: Int] = [:]
        var opInputs: [Int: [Int]] = [:]  // op index -> the values its primitive reads
        for (k, op) in graph.ops.enumerated() {
            var residual: Int?
            if case .convolution(let c) = op { residual = c.residual?.id }
            // Convolutions compute in `type` and concatenation wants one type throughout.
            var computesInType = false
            if case .convolution = op { computesInType = true }
            if case .concat = op { computesInType = true }
            let inputs = op.inputs.map(\.id).map { input -> Int in
                guard computesInType, types[input] != type else { return input }
                if shadowOf[input] == nil {
                    shapes.append(shapes[input])
                    types.append(type)
                    shadowOf[input] = shapes.count - 1
                    logical.append(.convert(from: input, to: shadowOf[input]!))
                    reads.append([input])
                    writes.append([shadowOf[input]!])
                }
                return shadowOf[input]!
            }
            opInputs[k] = inputs
            logical.append(.op(k))
            reads.append(inputs + (residual.map { [$0] } ?? []))
            writes.append([op.output.id])
        }
        for output in graph.outputs {
            logical.append(.output(output.id))
            reads.append([output.id])
            writes.append([])
        }

        var descs: [DNNLMemoryDesc] = []
        for id in shapes.indices {
            descs.append(
                linearOutputs.contains(id)
                    ? try DNNLMemoryDesc([shapes[id].n, shapes[id].c], .f32, dnnl_nc)
                    : try DNNLMemoryDesc(shapes[id].dims, types[id], dnnl_nhwc))
        }

        // Lifetimes in steps; a residual's output shares its buffer (the sum post-op
        // accumulates in place), so they are planned as one.
        var root = Array(shapes.indices)
        for op in graph.ops {
            if case .convolution(let c) = op, let r = c.residual { root[c.output.id] = root[r.id] }
        }
        let (first, last) = ArenaPlanner.lifetimes(reads: reads, writes: writes, root: root)
        let roots = Array(Set(root).filter { last[$0] >= 0 }).sorted()
        let requests = roots.map { r -> ArenaPlanner.Request in
            ArenaPlanner.Request(size: descs[r].byteCount, first: first[r], last: last[r])
        }
        let (offsets, size) = ArenaPlanner.plan(requests)
        arena = .allocate(byteCount: max(size, 64), alignment: 64)
        var offsetOf: [Int: Int] = [:]
        for (i, r) in roots.enumerated() { offsetOf[r] = offsets[i] }
        for id in shapes.indices where last[root[id]] >= 0 {
            valueMemory[id] = try DNNLMemory(descs[id], engine, pointer: arena.baseAddress! + offsetOf[root[id]]!)
        }

        // Primitives, step by step. The caller's input and outputs are NCHW float32.
        inputMemory = try DNNLMemory(try DNNLMemoryDesc(inputShape.dims, .f32, dnnl_nchw), engine, pointer: arena.baseAddress!)
        enum Pending {
            case primitive(DNNLPrimitive, [(Int32, DNNLMemory)])
            case kernel(any HostKernel)
        }
        var pending: [Pending] = []
        for step in logical {
            switch step {
            case .input:
                pending.append(.primitive(try reorder(inputMemory.desc, descs[graph.input.id]),
                                [(DNNL_ARG_FROM, inputMemory), (DNNL_ARG_TO, valueMemory[graph.input.id]!)]))
            case .convert(let from, let to):
                pending.append(.primitive(try reorder(descs[from], descs[to]), [(DNNL_ARG_FROM, valueMemory[from]!), (DNNL_ARG_TO, valueMemory[to]!)]))
            case .op(let k):
                switch graph.ops[k] {
                case .groupNorm(let g):
                    pending.append(.kernel(GroupNormKernel(
                        g, shape: shapes[g.input.id], input: valueMemory[g.input.id]!.pointer!,
                        output: valueMemory[g.output.id]!.pointer!, weight: weights["\(g.prefix).weight"]!.values,
                        bias: weights["\(g.prefix).bias"]!.values, threads: threads)))
                case .resize(let r):
                    pending.append(.kernel(ResizeKernel(
                        r, from: shapes[r.input.id], to: shapes[r.output.id], input: valueMemory[r.input.id]!.pointer!,
                        output: valueMemory[r.output.id]!.pointer!, threads: threads)))
                case .concat(let c):
                    let sources = opInputs[k]!.enumerated().map { (DNNL_ARG_MULTIPLE_SRC + Int32($0), valueMemory[$1]!) }
                    pending.append(.primitive(
                        try concat(opInputs[k]!, into: c.output.id, descs: descs), sources + [(DNNL_ARG_DST, valueMemory[c.output.id]!)]))
                default:
                    let (primitive, args) = try build(graph.ops[k], input: opInputs[k]![0], weights: weights, descs: descs, types: types)
                    pending.append(.primitive(primitive, args))
                }
            case .output(let id):
                let user = try DNNLMemory(try DNNLMemoryDesc(shapes[id].dims, .f32, dnnl_nchw), engine, pointer: arena.baseAddress!)
                outputMemories.append(user)
                if linearOutputs.contains(id) {
                    // [N, features] float32 is already NCHW [N, features, 1, 1]: a copy suffices.
                    outputCopies.append((UnsafeRawPointer(valueMemory[id]!.pointer!), shapes[id].count * 4))
                } else {
                    outputCopies.append(nil)
                    pending.append(.primitive(try reorder(descs[id], user.desc), [(DNNL_ARG_FROM, valueMemory[id]!), (DNNL_ARG_TO, user)]))
                }
            }
        }

        // One scratchpad, as large as the largest any primitive asks for.
        let scratchSizes = try pending.map { entry throws(EngineError) -> Int in
            guard case .primitive(let primitive, _) = entry else { return 0 }
            return try primitive.query(dnnl_query_scratchpad_md).byteCount
        }
        scratchpad = .allocate(byteCount: max(scratchSizes.max() ?? 0, 64), alignment: 64)
        for entry in pending {
            switch entry {
            case .primitive(let primitive, let args):
                var all = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.handle) }
                let scratchDesc = try primitive.query(dnnl_query_scratchpad_md)
                let scratch = try DNNLMemory(scratchDesc, engine, pointer: scratchpad.baseAddress!)
                memories.append(scratch)
                all.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratch.handle))
                steps.append(.primitive(primitive, args: all))
            case .kernel(let kernel):
                steps.append(.kernel(kernel))
            }
        }
    }

    deinit {
        arena.deallocate()
        scratchpad.deallocate()
    }

    func run(input: HostBuffer, outputs: [HostBuffer]) throws {
        precondition(outputs.count == outputMemories.count, "\(outputs.count) output buffers for \(outputMemories.count) outputs")
        precondition(input.count >= inputShape.count, "an input of \(input.count) floats for \(inputShape)")
        for (buffer, shape) in zip(outputs, outputShapes) {
            precondition(buffer.count >= shape.count, "an output of \(buffer.count) floats for \(shape)")
        }
        try input.withUnsafeBufferPointer { input in
            try HostBuffer.withUnsafeMutableBuffers(outputs) { outputs in
                try run(input: input.baseAddress!, outputs: outputs.map { $0.baseAddress! })
            }
        }
    }

    /// ``run(input:outputs:)`` on memory the caller has checked: the detector programs'
    /// own buffers run their networks through this.
    func run(input: UnsafePointer<Float>, outputs: [UnsafeMutablePointer<Float>]) throws {
        precondition(outputs.count == outputMemories.count)
        OpenMP.setThreads(threads)
        if let scaling = inputScaling {
            let plane = inputShape.h * inputShape.w, channels = inputShape.c
            scaledInput.withUnsafeMutableBufferPointer { out in
                for image in 0..<inputShape.n {
                    for c in 0..<channels {
                        let base = (image * channels + c) * plane
                        let (scale, shift) = (scaling.scale[c], scaling.shift[c])
                        for i in base..<(base + plane) { out[i] = input[i] * scale + shift }
                    }
                }
            }
            try scaledInput.withUnsafeMutableBytes { try inputMemory.setPointer($0.baseAddress!) }
        } else {
            try inputMemory.setPointer(UnsafeMutableRawPointer(mutating: input))
        }
        for (i, memory) in outputMemories.enumerated() { try memory.setPointer(outputs[i]) }
        for step in steps {
            switch step {
            case .primitive(let primitive, let args):
                try args.withUnsafeBufferPointer { args throws(EngineError) in
                    try DNNL.check(
                        dnnl_primitive_execute(primitive.primitive, engine.stream, Int32(args.count), args.baseAddress),
                        "dnnl_primitive_execute")
                }
            case .kernel(let kernel):
                try DNNL.check(dnnl_stream_wait(engine.stream), "dnnl_stream_wait")
                kernel.run()
            }
        }
        try DNNL.check(dnnl_stream_wait(engine.stream), "dnnl_stream_wait")
        for (i, copy) in outputCopies.enumerated() {
            if let copy { UnsafeMutableRawPointer(outputs[i]).copyMemory(from: copy.source, byteCount: copy.bytes) }
        }
    }

    // MARK: - Building primitives

    private func reorder(_ from: DNNLMemoryDesc, _ to: DNNLMemoryDesc) throws(EngineError) -> DNNLPrimitive {
        let attributes = try DNNLAttributes()
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(
            dnnl_reorder_primitive_desc_create(&pd, from.handle, engine.engine, to.handle, engine.engine, attributes.handle),
            "dnnl_reorder_primitive_desc_create")
        return try DNNLPrimitive(descriptor: pd!)
    }

    /// `torch.cat(dim=1)` of `inputs` (all in one type) into `output`.
    private func concat(_ inputs: [Int], into output: Int, descs: [DNNLMemoryDesc]) throws(EngineError) -> DNNLPrimitive {
        let attributes = try DNNLAttributes()
        let sources: [const_dnnl_memory_desc_t?] = inputs.map { descs[$0].handle }
        var pd: dnnl_primitive_desc_t?
        try DNNL.check(
            dnnl_concat_primitive_desc_create(
                &pd, engine.engine, descs[output].handle, Int32(inputs.count), 1, sources, attributes.handle),
            "concat")
        return try DNNLPrimitive(descriptor: pd!)
    }

    /// Runs a one-off reorder now (packing weights).
    private func pack(_ values: [Float], dims: [Int], tag: dnnl_format_tag_t, into desc: DNNLMemoryDesc) throws -> DNNLMemory {
        var values = values
        let packed = try DNNLMemory(desc, engine, pointer: nil)
        try values.withUnsafeMutableBytes { raw in
            let user = try DNNLMemory(try DNNLMemoryDesc(dims, .f32, tag), engine, pointer: raw.baseAddress!)
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
        memories.append(packed)
        weightBytes += packed.byteCount
        return packed
    }

    private func biasMemory(_ bias: [Float]) throws -> DNNLMemory {
        let memory = try DNNLMemory(try DNNLMemoryDesc([bias.count], .f32, dnnl_a), engine, pointer: nil)
        bias.withUnsafeBytes { memory.pointer!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        memories.append(memory)
        weightBytes += memory.byteCount
        return memory
    }

    /// The primitive for one op; `input` is the value it reads (a bf16 shadow of the
    /// graph's input value where one was made). Weights take the type of what they meet.
    private func build(
        _ op: Graph.Op, input: Int, weights: WeightStore, descs: [DNNLMemoryDesc], types: [ElementType]
    ) throws -> (DNNLPrimitive, [(Int32, DNNLMemory)]) {
        switch op {
        case .convolution(let c):
            let inChannels = descs[input].dims[1], out = descs[c.output.id].dims[1]
            let weightDims = [out, inChannels, c.kernel.h, c.kernel.w]
            let folded = BatchNormFolding.fold(
                weight: weights[c.weight]!.values, bias: c.bias.map { weights[$0]!.values }, outChannels: out,
                batchNorm: c.batchNorm, weights: weights)
            let wAny = try DNNLMemoryDesc(weightDims, types[input], dnnl_format_tag_any)
            let bias = try DNNLMemoryDesc([out], .f32, dnnl_a)
            let strides: [Int64] = [Int64(c.stride), Int64(c.stride)]
            let dilates: [Int64] = [Int64(c.dilation - 1), Int64(c.dilation - 1)]
            let pad: [Int64] = [Int64(c.padding), Int64(c.padding)]
            let attributes = try DNNLAttributes(sum: c.residual != nil, relu: c.relu)
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_convolution_forward_primitive_desc_create(
                    &pd, engine.engine, dnnl_forward_inference, dnnl_convolution_direct, descs[input].handle, wAny.handle,
                    bias.handle, descs[c.output.id].handle, strides, dilates, pad, pad, attributes.handle),
                "convolution \(c.weight)")
            let primitive = try DNNLPrimitive(descriptor: pd!)
            let packed = try pack(folded.weight, dims: weightDims, tag: dnnl_oihw, into: try primitive.query(dnnl_query_weights_md))
            return (primitive, [
                (DNNL_ARG_SRC, valueMemory[input]!), (DNNL_ARG_WEIGHTS, packed),
                (DNNL_ARG_BIAS, try biasMemory(folded.bias)), (DNNL_ARG_DST, valueMemory[c.output.id]!),
            ])

        case .pool(let p):
            let strides: [Int64] = [Int64(p.stride), Int64(p.stride)], kernel: [Int64] = [Int64(p.kernel.h), Int64(p.kernel.w)]
            let pad: [Int64] = [Int64(p.padding), Int64(p.padding)], dilation: [Int64] = [0, 0]
            let algorithm = p.kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding
            let attributes = try DNNLAttributes()
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_pooling_forward_primitive_desc_create(
                    &pd, engine.engine, dnnl_forward_inference, algorithm, descs[p.input.id].handle,
                    descs[p.output.id].handle, strides, kernel, dilation, pad, pad, attributes.handle),
                "pooling")
            return (try DNNLPrimitive(descriptor: pd!), [(DNNL_ARG_SRC, valueMemory[p.input.id]!), (DNNL_ARG_DST, valueMemory[p.output.id]!)])

        case .groupNorm, .resize, .concat:
            preconditionFailure("\(op) is built on its own")

        case .upsample(let u):
            let factors: [Float] = [Float(u.factor), Float(u.factor)]
            let attributes = try DNNLAttributes()
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_resampling_forward_primitive_desc_create(
                    &pd, engine.engine, dnnl_forward_inference, dnnl_resampling_nearest, factors, descs[u.input.id].handle,
                    descs[u.output.id].handle, attributes.handle),
                "resampling")
            return (try DNNLPrimitive(descriptor: pd!), [(DNNL_ARG_SRC, valueMemory[u.input.id]!), (DNNL_ARG_DST, valueMemory[u.output.id]!)])

        case .linear(let l):
            let src = descs[l.input.id], dst = descs[l.output.id]
            // A [N, features] input (another linear layer's output) takes [out, in] weights;
            // a feature map takes [out, c, h, w], PyTorch's flattening order in oihw.
            let srcDims = src.dims
            let flat = srcDims.count == 2
            let out = dst.dims[1]
            let weightDims = flat ? [out, srcDims[1]] : [out, srcDims[1], srcDims[2], srcDims[3]]
            let wAny = try DNNLMemoryDesc(weightDims, types[input], dnnl_format_tag_any)
            let bias = try DNNLMemoryDesc([out], .f32, dnnl_a)
            let attributes = try DNNLAttributes(relu: l.relu)
            var pd: dnnl_primitive_desc_t?
            try DNNL.check(
                dnnl_inner_product_forward_primitive_desc_create(
                    &pd, engine.engine, dnnl_forward_inference, src.handle, wAny.handle, bias.handle, dst.handle,
                    attributes.handle),
                "inner product \(l.weight)")
            let primitive = try DNNLPrimitive(descriptor: pd!)
            let packed = try pack(
                weights[l.weight]!.values, dims: weightDims, tag: flat ? dnnl_ab : dnnl_oihw,
                into: try primitive.query(dnnl_query_weights_md))
            let biasValues = l.bias.map { weights[$0]!.values } ?? [Float](repeating: 0, count: out)
            return (primitive, [
                (DNNL_ARG_SRC, valueMemory[l.input.id]!), (DNNL_ARG_WEIGHTS, packed),
                (DNNL_ARG_BIAS, try biasMemory(biasValues)), (DNNL_ARG_DST, valueMemory[l.output.id]!),
            ])
        }
    }
}
