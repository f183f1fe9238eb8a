import Engine
import Weights

/// A ``DetectorProgram`` on the CPU: every buffer in host memory, each network a
/// ``CPUPlan``, each detection step in plain Swift over the host implementations
/// (``TopK``, ``NMS``, ``RoIAlign``, ``BoxCoder``, ``ResizeNormalize``), the reference
/// the other backends' steps are held to.
final class CPUDetectorPlan: DetectorPlan {
    private let program: DetectorProgram
    private let plans: [CPUPlan]
    /// Threads for the host steps that split their work (as the networks' OpenMP threads).
    private let threads: Int
    /// Each network's input and output buffers.
    private let networkBuffers: [(input: Int, outputs: [Int])]
    /// One allocation per buffer of the program.
    private let memory: [UnsafeMutableRawPointer]
    private(set) var times = (network: 0.0, copy: 0.0)

    init(program: DetectorProgram, backend: CPUBackend, weights: WeightStore, precision: Precision) throws {
        self.program = program
        threads = backend.threads
        // RoIAlign works channels-last (HostDetectionSteps.roiAlign): the feature maps it
        // reads come NHWC, each sample's neighbours then contiguous channels, and the
        // network it writes for (the box head) reads NHWC.
        let roiAligns = program.steps.compactMap { step -> DetectionStep.MultiScaleRoIAlign? in
            guard case .roiAlign(let r) = step else { return nil }
            return r
        }
        let pooled = Set(roiAligns.flatMap { $0.levels.map(\.features.id) }), pooledInto = Set(roiAligns.map(\.into.id))
        var io = program.networks.map { _ in (input: 0, outputs: [Int]()) }
        var channelsLast = program.networks.map { _ in Set<Int>() }
        for (id, info) in program.buffers.enumerated() {
            if case .networkInput(let k) = info.storage { io[k].input = id }
            if case .networkOutput(let k, let j) = info.storage {
                io[k].outputs.append(id)
                if pooled.contains(id) { channelsLast[k].insert(j) }
            }
        }
        networkBuffers = io
        plans = try program.networks.indices.map { k in
            try backend.plan(program.networks[k], weights: weights, precision: precision, channelsLastOutputs: channelsLast[k],
                             channelsLastInput: pooledInto.contains(io[k].input))
        }
        memory = program.buffers.map { info in
            let pointer = UnsafeMutableRawPointer.allocate(byteCount: info.byteCount, alignment: 64)
            pointer.initializeMemory(as: UInt8.self, repeating: 0, count: info.byteCount)
            if case .floats(let values) = info.storage {
                values.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            return pointer
        }
    }

    deinit { memory.forEach { $0.deallocate() } }

    var memoryBytes: Int { plans.reduce(0) { $0 + $1.memoryBytes } + program.buffers.reduce(0) { $0 + $1.byteCount } }

    func run(input: HostBuffer, offset: Int, outputs: [HostBuffer]) throws {
        precondition(outputs.count == program.outputs.count, "\(outputs.count) outputs for the program's \(program.outputs.count)")
        let inputBytes = program[program.input].byteCount
        input.withUnsafeBytes { bytes in
            precondition(offset >= 0 && offset + inputBytes <= bytes.count, "the tiles lie outside their buffer")
            memory[program.input.id].copyMemory(from: bytes.baseAddress! + offset, byteCount: inputBytes)
        }
        var network = Duration.zero
        let clock = ContinuousClock()
        for step in program.steps {
            let start = clock.now
            try perform(step)
            if step.isNetwork { network += clock.now - start }
        }
        for (buffer, out) in zip(program.outputs, outputs) {
            out.withUnsafeMutableBytes { out in
                precondition(out.count >= program[buffer].byteCount, "an output buffer of \(out.count) bytes for \(program[buffer].byteCount)")
                out.baseAddress!.copyMemory(from: memory[buffer.id], byteCount: program[buffer].byteCount)
            }
        }
        let (seconds, attoseconds) = network.components
        times = (Double(seconds) + Double(attoseconds) / 1e18, 0)
    }

    private func perform(_ step: DetectionStep) throws {
        let buffers = HostBuffers(memory: memory)
        switch step {
        case .network(let k):
            let (input, outputs) = networkBuffers[k]
            try plans[k].run(
                input: UnsafePointer(memory[input].assumingMemoryBound(to: Float.self)),
                outputs: outputs.map { memory[$0].assumingMemoryBound(to: Float.self) })
        case .zero(let b): memory[b.id].initializeMemory(as: UInt8.self, repeating: 0, count: program[b].byteCount)
        case .transform(let t): HostDetectionSteps.transform(t, buffers)
        case .anchorProposals(let p): HostDetectionSteps.anchorProposals(p, images: program.images, buffers)
        case .classCandidates(let c): HostDetectionSteps.classCandidates(c, images: program.images, buffers)
        case .nms(let n): HostDetectionSteps.nms(n, images: program.images, buffers)
        case .gatherBoxes(let g): HostDetectionSteps.gatherBoxes(g, images: program.images, buffers)
        case .roiAlign(let r): HostDetectionSteps.roiAlign(r, buffers, threads: threads)
        case .boxCandidates(let c): HostDetectionSteps.boxCandidates(c, buffers)
        case .gatherDetections(let g): HostDetectionSteps.gatherDetections(g, images: program.images, buffers)
        }
    }
}

/// A program's buffers in host memory, typed as the steps read them. Sendable without
/// checks: a step that splits its work between threads gives each its own rows to write.
struct HostBuffers: @unchecked Sendable {
    let memory: [UnsafeMutableRawPointer]
    func floats(_ b: DetectorProgram.Buffer) -> UnsafeMutablePointer<Float> { memory[b.id].assumingMemoryBound(to: Float.self) }
    func ints(_ b: DetectorProgram.Buffer) -> UnsafeMutablePointer<Int32> { memory[b.id].assumingMemoryBound(to: Int32.self) }
}
