import CPUBackend
@testable import CUDABackend
import Engine
import Models
import Weights

/// A detector pass wired exactly as a GPU wires it (``FasterRCNNPass``), run on this CPU:
/// its memory is host memory addressed as the kernels see it, its kernels run emulated
/// (``EmulatedKernels``: the CUDA C as C++), its networks as CPU plans in float32. What
/// it checks is everything of the GPU detector but cuDNN: the wiring (buffer sizes,
/// offsets, argument order, the head's chunks) and the kernels together.
final class EmulatedPassBuilder: DetectorPassBuilder {
    struct Network: DetectorPassNetwork {
        let plan: any Plan
        let inputAddress: UInt64
        let outputs: [UInt64]
        var outputShapes: [Shape4] { plan.outputShapes }
        func outputAddress(_ k: Int) -> UInt64 { outputs[k] }
    }

    private enum Step {
        case kernel(name: String, count: Int?, blocks: Int?, threads: Int, arguments: [KernelLaunch.Argument])
        case network(Network)
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

    func mark(network: Bool) {}

    /// Runs the wired pass on `images` (NCHW float32 in [0, 1]) and reads its detections.
    func detect(_ images: [Float], layout: DetectorPassLayout) throws -> [[Detection]] {
        precondition(images.count * 4 == layout.inputBytes)
        Self.pointer(layout.input).copyMemory(from: images, byteCount: layout.inputBytes)
        Self.pointer(layout.results).storeBytes(of: Int32(0), toByteOffset: layout.resultBytes - 4, as: Int32.self)
        for step in steps {
            switch step {
            case .kernel(let name, let count, let blocks, let threads, let arguments):
                try runner.run(kernel: name, count: count, blocks: blocks, threads: threads, arguments: arguments)
            case .network(let n):
                try n.plan.run(
                    input: UnsafePointer(Self.pointer(n.inputAddress).assumingMemoryBound(to: Float.self)),
                    outputs: n.outputs.map { Self.pointer($0).assumingMemoryBound(to: Float.self) })
            }
        }
        return try layout.detections(in: Self.pointer(layout.results))
    }

    private static func pointer(_ address: UInt64) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(address))! }
}
