import CPUBackend
@testable import CUDABackend
import Engine
import Weights

/// The GPU backend's detectors run on this CPU: a ``DetectorProgram`` lowered exactly
/// as a GPU lowers it (``DetectorLowering``), its memory host memory addressed as the
/// kernels see it, its kernels emulated (``EmulatedKernels``: the CUDA C as C++), its
/// networks CPU plans in float32. What it checks is everything of the GPU detector but
/// cuDNN: the lowering (buffer sizes, offsets, argument order, the head's chunks) and
/// the kernels together; a model runs on it unchanged, as on any backend.
struct EmulatedGPUBackend: Backend, @unchecked Sendable {
    let runner: EmulatedKernels
    let cpu = CPUBackend(threads: 2)

    var description: String { "the GPU's detection steps, emulated" }
    var deviceKind: DeviceKind { .gpu }
    var deviceName: String { "emulated GPU" }
    func resolve(_ requested: Precision) -> (Precision, notice: String?) { (.f32, nil) }

    func compile(_ graph: Graph, weights: WeightStore, precision: Precision) throws -> any Plan {
        try cpu.compile(graph, weights: weights, precision: .f32)
    }

    func compile(_ program: DetectorProgram, weights: WeightStore, precision: Precision) throws -> any DetectorPlan {
        let builder = EmulatedPassBuilder(runner: runner, cpu: cpu, weights: weights)
        return EmulatedPass(builder: builder, layout: try DetectorLowering.lower(program, into: builder))
    }
}

final class EmulatedPass: DetectorPlan {
    let builder: EmulatedPassBuilder
    let layout: DetectorPassLayout
    var memoryBytes: Int { 0 }
    var times: (network: Double, copy: Double) { (0, 0) }

    init(builder: EmulatedPassBuilder, layout: DetectorPassLayout) { (self.builder, self.layout) = (builder, layout) }

    func run(input: HostBuffer, offset: Int, outputs: [HostBuffer]) throws {
        input.withUnsafeBytes {
            EmulatedPassBuilder.pointer(layout.input.address).copyMemory(from: $0.baseAddress! + offset, byteCount: layout.input.bytes)
        }
        try builder.runSteps()
        for (output, host) in zip(layout.outputs, outputs) {
            host.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: EmulatedPassBuilder.pointer(output.address), byteCount: output.bytes) }
        }
    }
}

final class EmulatedPassBuilder: DetectorPassBuilder {
    /// A CPU plan with its input and outputs in buffers of its own, addressed as the kernels see them.
    struct Network: DetectorPassNetwork {
        let plan: any Plan
        let input: HostBuffer
        let outputs: [HostBuffer]
        var inputAddress: UInt64 { EmulatedPassBuilder.address(input) }
        func outputAddress(_ k: Int) -> UInt64 { EmulatedPassBuilder.address(outputs[k]) }
    }

    private enum Step {
        case kernel(name: String, count: Int?, blocks: Int?, threads: Int, arguments: [KernelLaunch.Argument])
        case network(Network)
        case zero(address: UInt64, bytes: Int)
    }

    let runner: EmulatedKernels
    private let cpu: CPUBackend
    private let weights: WeightStore
    private var steps: [Step] = []

    init(runner: EmulatedKernels, cpu: CPUBackend, weights: WeightStore) {
        (self.runner, self.cpu, self.weights) = (runner, cpu, weights)
    }

    func buffer(_ bytes: Int) throws -> UInt64 { try runner.zeros(bytes) }

    func upload<T>(_ values: [T]) throws -> UInt64 { try runner.upload(values) }

    func network(_ graph: Graph) throws -> Network {
        let plan = try cpu.compile(graph, weights: weights, precision: .f32)
        return Network(plan: plan, input: HostBuffer(count: plan.inputShape.count), outputs: plan.outputShapes.map { HostBuffer(count: $0.count) })
    }

    func launch(_ name: String, count: Int?, blocks: Int?, threads: Int, _ arguments: [KernelLaunch.Argument]) {
        steps.append(.kernel(name: name, count: count, blocks: blocks, threads: threads, arguments: arguments))
    }

    func run(_ network: Network) { steps.append(.network(network)) }

    func zero(_ address: UInt64, bytes: Int) { steps.append(.zero(address: address, bytes: bytes)) }

    func mark(network: Bool) {}

    func runSteps() throws {
        for step in steps {
            switch step {
            case .kernel(let name, let count, let blocks, let threads, let arguments):
                try runner.run(kernel: name, count: count, blocks: blocks, threads: threads, arguments: arguments)
            case .network(let n): try n.plan.run(input: n.input, outputs: n.outputs)
            case .zero(let address, let bytes):
                Self.pointer(address).initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            }
        }
    }

    static func pointer(_ address: UInt64) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(address))! }

    /// Where `buffer`'s floats are, as a kernel's argument: the buffer's pages stay put for its life.
    static func address(_ buffer: HostBuffer) -> UInt64 { buffer.withUnsafeBytes { UInt64(UInt(bitPattern: $0.baseAddress)) } }
}
