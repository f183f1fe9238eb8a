import CUDA
import Engine

/// Float32 values as the bytes of a device's element type (weights are converted once,
/// on the host, when a plan is built).
enum HalfPrecision {
    static func bytes(_ values: [Float], as type: ElementType) -> [UInt8] {
        switch type {
        case .f32: return values.withUnsafeBytes { [UInt8]($0) }
        case .f16: return values.map { Float16($0).bitPattern }.withUnsafeBytes { [UInt8]($0) }
        case .bf16: return values.map(bfloat16).withUnsafeBytes { [UInt8]($0) }
        }
    }

    /// Round to nearest even, as PyTorch's `.to(torch.bfloat16)`; NaN stays NaN.
    static func bfloat16(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7fc0 }
        let bits = x.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16)
    }

    static func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
