import Weights

/// A device family's compiler: turns a ``Graph`` and its weights into a ``Plan``.
/// The CPU backend uses oneDNN; a CUDA backend plugs in behind the same protocol.
public protocol Backend: Sendable {
    /// For logs and summaries, e.g. "CPU (oneDNN 2.6.3, avx512_core_bf16)".
    var description: String { get }
    /// The precision this backend will actually use when `requested` is asked for,
    /// with a one-line notice when it differs.
    func resolve(_ requested: Precision) -> (Precision, notice: String?)
    func compile(_ graph: Graph, weights: WeightStore, precision: Precision) throws -> any Plan
}

/// A compiled graph for one input shape: weights packed, memory planned. `run` does no
/// allocation; it is used by one thread at a time.
public protocol Plan: AnyObject {
    var inputShape: Shape4 { get }
    var outputShapes: [Shape4] { get }
    /// Bytes the plan holds: packed weights, the activation arena, scratch space.
    var memoryBytes: Int { get }
    /// Runs on `input` (NCHW float32) and writes each graph output (NCHW float32) to `outputs`.
    func run(input: UnsafePointer<Float>, outputs: [UnsafeMutablePointer<Float>]) throws
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
