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
    /// Where the normalised input goes: arena bytes that later values reuse, as it is read
    /// only by the first step (at 1024 px and batch 8, 100 MB not held through the run).
    private var scaledInput: UnsafeMutablePointer<Float>?

    var memoryBytes: Int { arena.count + scratchpad.count + weightBytes }

    /// How many convolutions run by Winograd's algorithm.
    var winogradConvolutions: Int {
        steps.reduce(0) { count, step in
            if case .kernel(let kernel) = step, kernel is WinogradConvolution { count + 1 } else { count }
        }
    }

    /// `channelsLastOutputs`: the indices of the graph's outputs to write NHWC rather than
    /// NCHW, and `channelsLastInput` to read the input so (for host steps that work so).
    /// `winograd`: whether the 3x3 convolutions that suit it run by Winograd's algorithm
    /// (``WinogradConvolution``) rather than oneDNN's direct one.
    init(graph: Graph, weights: WeightStore, type: ElementType, threads: Int,
         channelsLastOutputs: Set<Int> = [], channelsLastInput: Bool = false, winograd: Bool = true) throws {
        precondition(!channelsLastInput || graph.inputScaling == nil, "input scaling reads NCHW")
        self.threads = threads
        // oneDNN sizes each primitive's work split when it is created, from the calling
        // thread's OpenMP team size, and runs it with that many threads whatever the team
        // size is later: a plan built at the default (every core) ignores `threads`.
        OpenMP.setThreads(threads)
        engine = try DNNLEngine()
        inputShape = graph.shape(of: graph.input)
        outputShapes = graph.outputs.map(graph.shape(of:))
        inputScaling = graph.inputScaling

        // Mixed precision: convolutions compute in `type` and write it, the residual stream
        // too (a residual convolution sums into its bf16 output in float32 and rounds once
        // per block: fewer roundings than AMP's, which rounds the convolution, BatchNorm and
        // the sum each); linear layers and the host kernels stay float32. A bf16 convolution
        // reading an f32 value reads a bf16 copy made just before it ("shadow").
        var types = graph.shapes.indices.map { _ in type }
        var shapes = graph.shapes
        var linearOutputs = Set<Int>()
        for op in graph.ops {
            switch op {
            case .pool(let p): types[p.output.id] = types[p.input.id]
            case .upsample(let u): types[u.output.id] = types[u.input.id]
            case .linear(let l): linearOutputs.insert(l.output.id); types[l.output.id] = .f32
            // The kernels read and write float32 (statistics need it); a bf16 convolution
            // after one reads a bf16 shadow.
            case .groupNorm(let g): types[g.input.id] = .f32; types[g.output.id] = .f32
            case .resize(let r): types[r.input.id] = .f32; types[r.output.id] = .f32
            case .concat(let c): types[c.output.id] = type
            // A residual convolution writes into its residual's buffer, so in its type.
            case .convolution(let c): if let r = c.residual { types[c.output.id] = types[r.id] }
            }
        }

        // The steps in order, with the values each reads and writes.
        enum Stage { case input, convert(from: Int, to: Int), op(Int), output(Int) }
        var logical: [Stage] = [.input]
        var reads: [[Int]] = [[]], writes: [[Int]] = [[graph.input.id]]
        var shadowOf: [Int: Int] = [:]
        var opInputs: [Int: [Int]] = [:]  // op index -> the values its primitive reads
        var opStep: [Int: Int] = [:]  // op index -> its step
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
            opStep[k] = logical.count
            logical.append(.op(k))
            reads.append(inputs + (residual.map { [$0] } ?? []))
            writes.append([op.output.id])
        }
        for output in graph.outputs {
            logical.append(.output(output.id))
            reads.append([output.id])
            writes.append([])
        }

        // Lifetimes in steps; a residual's output shares its buffer (the sum post-op
        // accumulates in place), so they are planned as one.
        var root = Array(shapes.indices)
        for op in graph.ops {
            if case .convolution(let c) = op, let r = c.residual { root[c.output.id] = root[r.id] }
        }

        // The primitives in order, each value's layout chosen as its writer is made; the
        // host kernels read and write plain NHWC.
        var plainRoots = Set<Int>()
        for op in graph.ops {
            switch op {
            case .groupNorm(let g): plainRoots.insert(root[g.input.id])
            case .resize(let r): plainRoots.insert(root[r.input.id])
            default: break
            }
        }
        let primitives = try CPUPrimitives(
            engine: engine, shapes: shapes, types: types, root: root, plainRoots: plainRoots, linearOutputs: linearOutputs,
            copies: Dictionary(uniqueKeysWithValues: shadowOf.map { ($1, $0) }), type: type)
        var built: [Int: (DNNLPrimitive, [(Int32, PrimitiveArgument)])] = [:]
        var winograds: [Int: WinogradConvolution.Design] = [:]
        for (k, op) in graph.ops.enumerated() {
            if winograd, case .convolution(let c) = op,
                let design = try primitives.winograd(c, input: opInputs[k]![0], weights: weights, threads: threads) {
                winograds[k] = design
                continue
            }
            switch op {
            case .groupNorm, .resize:
                _ = try primitives.layout(op.inputs[0].id)
                try primitives.setPlain(op.output.id)
            case .concat(let c): built[k] = try primitives.concat(opInputs[k]!, into: c.output.id)
            default: built[k] = try primitives.build(op, input: opInputs[k]![0], weights: weights)
            }
        }
        var descs: [DNNLMemoryDesc] = []
        for id in shapes.indices { descs.append(try primitives.layout(id)) }

        let (first, last) = ArenaPlanner.lifetimes(reads: reads, writes: writes, root: root)
        let roots = Array(Set(root).filter { last[$0] >= 0 }).sorted()
        var requests = roots.map { r -> ArenaPlanner.Request in
            ArenaPlanner.Request(size: descs[r].byteCount, first: first[r], last: last[r])
        }
        // The normalised input, NCHW float32, read by the input step (step 0) alone.
        if inputScaling != nil { requests.append(ArenaPlanner.Request(size: inputShape.count * 4, first: 0, last: 0)) }
        // Each Winograd convolution's matrices and scratchpads, needed during its step alone.
        let workspaceOps = winograds.keys.sorted()
        let firstWorkspace = requests.count
        for k in workspaceOps {
            requests.append(ArenaPlanner.Request(size: winograds[k]!.workspaceBytes, first: opStep[k]!, last: opStep[k]!))
        }
        let (offsets, size) = ArenaPlanner.plan(requests)
        arena = .allocate(byteCount: max(size, 64), alignment: 64)
        if inputScaling != nil {
            scaledInput = (arena.baseAddress! + offsets[firstWorkspace - 1]).bindMemory(to: Float.self, capacity: inputShape.count)
        }
        var workspaceOffset: [Int: Int] = [:]
        for (i, k) in workspaceOps.enumerated() { workspaceOffset[k] = offsets[firstWorkspace + i] }
        var offsetOf: [Int: Int] = [:]
        for (i, r) in roots.enumerated() { offsetOf[r] = offsets[i] }
        for id in shapes.indices where last[root[id]] >= 0 {
            valueMemory[id] = try DNNLMemory(descs[id], engine, pointer: arena.baseAddress! + offsetOf[root[id]]!)
        }
        memories = primitives.ownMemories
        weightBytes = primitives.weightBytes

        // The steps in order. The caller's input and outputs are NCHW float32 (NHWC where
        // asked).
        inputMemory = try DNNLMemory(
            try DNNLMemoryDesc(inputShape.dims, .f32, channelsLastInput ? dnnl_nhwc : dnnl_nchw), engine, pointer: arena.baseAddress!)
        enum Pending {
            case primitive(DNNLPrimitive, [(Int32, DNNLMemory)])
            case kernel(any HostKernel)
        }
        var pending: [Pending] = []
        for step in logical {
            switch step {
            case .input:
                pending.append(.primitive(try primitives.reorder(inputMemory.desc, descs[graph.input.id]),
                                [(DNNL_ARG_FROM, inputMemory), (DNNL_ARG_TO, valueMemory[graph.input.id]!)]))
            case .convert(let from, let to):
                pending.append(.primitive(
                    try primitives.reorder(descs[from], descs[to]), [(DNNL_ARG_FROM, valueMemory[from]!), (DNNL_ARG_TO, valueMemory[to]!)]))
            case .op(let k):
                if let design = winograds[k] {
                    pending.append(.kernel(try WinogradConvolution(
                        design, source: valueMemory[opInputs[k]![0]]!.pointer!, destination: valueMemory[graph.ops[k].output.id]!.pointer!,
                        workspace: arena.baseAddress! + workspaceOffset[k]!, engine: engine)))
                    continue
                }
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
                default:
                    let (primitive, arguments) = built[k]!
                    pending.append(.primitive(primitive, arguments.map { argument in
                        switch argument.1 {
                        case .value(let id): (argument.0, valueMemory[id]!)
                        case .memory(let memory): (argument.0, memory)
                        }
                    }))
                }
            case .output(let id):
                let tag = channelsLastOutputs.contains(outputMemories.count) ? dnnl_nhwc : dnnl_nchw
                let user = try DNNLMemory(try DNNLMemoryDesc(shapes[id].dims, .f32, tag), engine, pointer: arena.baseAddress!)
                outputMemories.append(user)
                if linearOutputs.contains(id) {
                    // [N, features] float32 is already NCHW [N, features, 1, 1]: a copy suffices.
                    outputCopies.append((UnsafeRawPointer(valueMemory[id]!.pointer!), shapes[id].count * 4))
                } else {
                    outputCopies.append(nil)
                    pending.append(.primitive(
                        try primitives.reorder(descs[id], user.desc), [(DNNL_ARG_FROM, valueMemory[id]!), (DNNL_ARG_TO, user)]))
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
        if let scaling = inputScaling, let out = scaledInput {
            let plane = inputShape.h * inputShape.w, channels = inputShape.c
            for image in 0..<inputShape.n {
                for c in 0..<channels {
                    let base = (image * channels + c) * plane
                    let (scale, shift) = (scaling.scale[c], scaling.shift[c])
                    for i in base..<(base + plane) { out[i] = input[i] * scale + shift }
                }
            }
            try inputMemory.setPointer(UnsafeMutableRawPointer(out))
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
                try kernel.run()
            }
        }
        try DNNL.check(dnnl_stream_wait(engine.stream), "dnnl_stream_wait")
        for (i, copy) in outputCopies.enumerated() {
            if let copy { UnsafeMutableRawPointer(outputs[i]).copyMemory(from: copy.source, byteCount: copy.bytes) }
        }
    }
}
