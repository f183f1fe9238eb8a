import Configuration
import Tiling

/// What a segmentation's parts hold and how the gather stitches them: the run's grid
/// (each tile's cell, its neighbours), `stitch` and `probabilities`.
public struct SegmentationLayout: Sendable {
    public var grid: TileGrid
    public var stitch: Stitch
    public var probabilities: ProbabilityOutput

    public init(grid: TileGrid, stitch: Stitch = .center, probabilities: ProbabilityOutput = .none) {
        (self.grid, self.stitch, self.probabilities) = (grid, stitch, probabilities)
    }

    /// Whether the model must hand over each tile's probabilities.
    public var keepsProbabilities: Bool { stitch == .blend || probabilities != .none }

    /// How a part stores probabilities: Float32 when the output is Float32, else
    /// Float16 (a relative error of 2^-11, below what UInt8 output or a blend's argmax
    /// away from near-ties can see, at half the bytes).
    public var stored: StoredValues { probabilities == .float ? .float32 : .float16 }
}

/// What one row of a segmentation part points at in `classes.bin`.
public enum StoredValues: String, Sendable {
    /// A class id per pixel, UInt16.
    case ids
    /// A plane of probabilities per class, Float16 or Float32.
    case float16 = "f16"
    case float32 = "f32"

    public var bytesPerValue: Int { self == .float32 ? 4 : 2 }

    /// `values` stored as this type's little-endian bytes.
    func encode(_ values: [Float]) -> [UInt8] {
        switch self {
        case .float32: values.withUnsafeBytes { Array($0) }
        case .float16: values.map { Float16($0) }.withUnsafeBytes { Array($0) }
        case .ids: preconditionFailure("ids are not probabilities")
        }
    }

    func decode(_ bytes: [UInt8]) -> [Float] {
        switch self {
        case .float32: bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        case .float16: bytes.withUnsafeBytes { $0.bindMemory(to: Float16.self).map(Float.init) }
        case .ids: preconditionFailure("ids are not probabilities")
        }
    }
}
