import Engine
import Weights

/// Runs graphs on the CPU with oneDNN: activations in the layout oneDNN prefers (blocked
/// in float32 on AVX-512, NHWC in bf16; see ``CPUPrimitives``), weights packed once into
/// the layout each convolution prefers, BatchNorm folded, bias/ReLU/residual fused as
/// post-ops, one arena planned by lifetimes, a user-managed scratchpad.
public struct CPUBackend: Backend {
    /// OpenMP threads each plan runs with.
    public let threads: Int
    /// Which of the run's CPU devices this is (a share of the cores each).
    public let index: Int

    public init(threads: Int, index: Int = 0) { (self.threads, self.index) = (max(1, threads), index) }

    public var description: String { "CPU (oneDNN \(DNNL.version), \(DNNL.isaDescription), \(threads) thread\(threads == 1 ? "" : "s"))" }
    public var deviceKind: DeviceKind { .cpu }
    public var deviceName: String { "CPU \(index)" }

    public func resolve(_ requested: Precision) -> (Precision, notice: String?) {
        switch requested {
        case .f32: return (.f32, nil)
        case .bf16, .f16:
            let from = requested == .f16 ? "16-bit float on CPU runs as bfloat16 (as Lightning does); " : ""
            if DNNL.hasNativeBF16 { return (.bf16, from.isEmpty ? nil : from + "this CPU has native bf16 (\(DNNL.isaDescription))") }
            return (.f32, "\(from)this CPU has no native bf16 (\(DNNL.isaDescription)): running in float32")
        }
    }

    public func compile(_ graph: Graph, weights: WeightStore, precision: Precision) throws -> any Plan {
        try plan(graph, weights: weights, precision: precision)
    }

    func plan(_ graph: Graph, weights: WeightStore, precision: Precision, channelsLastOutputs: Set<Int> = [],
              channelsLastInput: Bool = false) throws -> CPUPlan {
        try CPUPlan(graph: graph, weights: weights, type: precision == .f16 ? .bf16 : precision.elementType, threads: threads,
                    channelsLastOutputs: channelsLastOutputs, channelsLastInput: channelsLastInput)
    }

    public func compile(_ program: DetectorProgram, weights: WeightStore, precision: Precision) throws -> any DetectorPlan {
        try CPUDetectorPlan(program: program, backend: self, weights: weights, precision: precision)
    }
}
