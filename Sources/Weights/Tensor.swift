import Foundation

/// A named parameter as loaded: its shape and its values as Float32 (whatever the
/// file stored: F32, F16, BF16 and F64 are converted; integer tensors such as
/// BatchNorm's `num_batches_tracked` keep their values as floats).
public struct HostTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public var count: Int { values.count }
}

/// The stored element types weights files use.
public enum StoredType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", u8 = "U8", bool = "BOOL"

    var byteCount: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .u8, .bool: 1
        }
    }

    /// Converts `count` little-endian values at `bytes` to floats.
    func floats(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch self {
            case .f32: for i in 0..<count { out[i] = bytes.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
            case .f64: for i in 0..<count { out[i] = Float(bytes.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
            case .f16:
                for i in 0..<count {
                    out[i] = Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<count {
                    let bits = UInt32(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16
                    out[i] = Float(bitPattern: bits)
                }
            case .i64: for i in 0..<count { out[i] = Float(bytes.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
            case .i32: for i in 0..<count { out[i] = Float(bytes.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
            case .u8, .bool: for i in 0..<count { out[i] = Float(bytes[i]) }
            }
            initialized = count
        }
    }
}

/// Maps `path` into memory (only the pages read are loaded) and runs `body` on its bytes.
func withMappedFile<R>(
    _ path: String, _ body: (UnsafeRawBufferPointer) throws(WeightsError) -> R
) throws(WeightsError) -> R {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
        throw .malformed(path: path, reason: "cannot be read: \(error.localizedDescription)")
    }
    // Data.withUnsafeBytes is not typed-throws: carry the error through a Result.
    let result: Result<R, WeightsError> = data.withUnsafeBytes { bytes in
        do throws(WeightsError) { return .success(try body(bytes)) } catch { return .failure(error) }
    }
    return try result.get()
}
