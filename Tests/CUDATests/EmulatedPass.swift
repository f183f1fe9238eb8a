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

    func run(input: UnsafeRawPointer, outputs: [UnsafeMutableRawPointer]) throws {
        EmulatedPassBuilder.pointer(layout.input.address).copyMemory(from: input, byteCount: layout.input.bytes)
        try builder.runSteps()
        for (output, host) in zip(layout.outputs, outputs) {
            host.copyMemory(from: EmulatedPassBuilder.pointer(output.address), byteCount: output.bytes)
        }
    }
}

final class EmulatedPassBuilder: DetectorPassBuilder {
    struct Network: DetectorPassNetwork {
        let plan: any Plan
        let inputAddress: UInt64
        let outputs: [UInt64]
        func outputAddress(_ k: Int) -> UInt64 { outputs[k] }
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
        return Network(
            plan: plan, inputAddress: try buffer(plan.inputShape.count * 4), outputs: try plan.outputShapes.map { try buffer($0.count * 4) })
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
            case .network(let n):
                try n.plan.run(
                    input: UnsafePointer(Self.pointer(n.inputAddress).assumingMemoryBound(to: Float.self)),
                    outputs: n.outputs.map { Self.pointer($0).assumingMemoryBound(to: Float.self) })
            case .zero(let address, let bytes):
                Self.pointer(address).initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            }
        }
    }

    static func pointer(_ address: UInt64) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(address))! }
}
