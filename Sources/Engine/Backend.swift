import Weights

/// One device's compiler: turns a ``Graph`` and its weights into a ``Plan`` that runs
/// there. There is one backend instance per device (a CPU device, or one GPU), so names,
/// memory figures and precision notices come from the backend itself.
public protocol Backend: Sendable {
    /// For logs and summaries, e.g. "CPU (oneDNN 3.2.0, avx512_core_bf16, 2 threads)".
    var description: String { get }
    /// The device kind, titling the usage summary.
    var deviceKind: DeviceKind { get }
    /// This device in per-device reports, e.g. "CPU 0" or "GPU 1 (NVIDIA H200)".
    var deviceName: String { get }
    /// The precision this backend will actually use when `requested` is asked for,
    /// with a one-line notice when it differs or needs saying.
    func resolve(_ requested: Precision) -> (Precision, notice: String?)
    func compile(_ graph: Graph, weights: WeightStore, precision: Precision) throws -> any Plan
    /// A detector's whole program: its networks compiled as ``Plan``s, its steps on this device.
    func compile(_ program: DetectorProgram, weights: WeightStore, precision: Precision) throws -> any DetectorPlan
    /// Where batches should be assembled for the fastest copies to this device (pinned
    /// memory on a GPU); nil: ordinary host memory serves.
    var hostMemory: (any HostMemory)? { get }
}

extension Backend {
    public var hostMemory: (any HostMemory)? { nil }
}

/// An allocator of host memory for ``HostBuffer``s.
public protocol HostMemory: Sendable {
    func allocate(byteCount: Int) throws -> UnsafeMutableRawPointer
    func deallocate(_ pointer: UnsafeMutableRawPointer)
}

/// A compiled graph for one input shape and precision: weights packed, memory planned,
/// intermediate values kept on the device. `run` does no allocation; it is used by one
/// thread at a time.
public protocol Plan: AnyObject {
    var inputShape: Shape4 { get }
    var outputShapes: [Shape4] { get }
    /// Bytes the plan holds on its device: packed weights, the activation arena, scratch space.
    var memoryBytes: Int { get }
    /// Runs on the first `inputShape.count` floats of `input` (NCHW float32; from the
    /// backend's ``HostMemory`` where it has one, for the fastest copies) and writes each
    /// graph output (NCHW float32) to the front of `outputs[k]`: only what the host needs
    /// crosses back.
    func run(input: HostBuffer, outputs: [HostBuffer]) throws
}

/// A compiled ``DetectorProgram``: every buffer allocated and every network planned
/// once; `run` does no allocation and is used by one thread at a time.
public protocol DetectorPlan: AnyObject {
    /// Bytes the plans and buffers hold on the device.
    var memoryBytes: Int { get }
    /// Runs on the program's input, read from `input` at byte `offset` (tiles in host
    /// memory; from the backend's ``HostMemory`` where it has one), and copies each of the
    /// program's outputs, byte for byte, to the front of `outputs[k]`.
    func run(input: HostBuffer, offset: Int, outputs: [HostBuffer]) throws
    /// Seconds the last run spent in the networks and the transform, and copying to and
    /// from the device (0 where it computes in host memory).
    var times: (network: Double, copy: Double) { get }
}

/// What a plan is compiled for: plans are cached by this, the whole input shape and the
/// precision, never by batch size alone.
public struct PlanKey: Hashable, Sendable {
    public var input: Shape4
    public var precision: Precision
    public init(input: Shape4, precision: Precision) { (self.input, self.precision) = (input, precision) }
}

/// Failures of a backend, naming the call or the op.
public enum EngineError: Error, CustomStringConvertible {
    case backend(call: String, status: String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .backend(let call, let status): "\(call) failed: \(status)"
        case .unsupported(let what): "not supported by this backend: \(what)"
        }
    }
}

/// What a backend computes on.
public enum DeviceKind: String, Sendable, CustomStringConvertible {
    case cpu = "CPU", gpu = "GPU"

    public var description: String { rawValue }
}
