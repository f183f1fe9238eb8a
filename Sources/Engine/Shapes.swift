/// The shape of an activation: batch, channels, height, width (PyTorch's NCHW order;
/// a backend chooses its own memory layout).
public struct Shape4: Hashable, Sendable, CustomStringConvertible {
    public var n, c, h, w: Int
    public init(n: Int, c: Int, h: Int, w: Int) { (self.n, self.c, self.h, self.w) = (n, c, h, w) }
    public var count: Int { n * c * h * w }
    public var dims: [Int] { [n, c, h, w] }
    public var description: String { "\(n)x\(c)x\(h)x\(w)" }
}

/// Element types a backend may compute in.
public enum ElementType: String, Sendable {
    case f32, bf16, f16
    public var byteCount: Int { self == .f32 ? 4 : 2 }
}

/// The precision a run asks for, from the `precision` key (Lightning's names).
public enum Precision: String, Sendable {
    /// Everything in float32.
    case f32
    /// Convolutions and matrix products in bfloat16 (float32 accumulation and outputs).
    case bf16
    /// Half precision where a device has it (GPUs); CPUs run it as bf16.
    case f16
}

extension Precision {
    /// The element type a device with every type computes this precision in (a CPU,
    /// which has no float16 arithmetic, runs f16 as bf16: its backend says so).
    public var elementType: ElementType {
        switch self {
        case .f32: .f32
        case .bf16: .bf16
        case .f16: .f16
        }
    }
}
