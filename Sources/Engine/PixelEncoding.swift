/// How a batch's pixels are held between the reader and the device: float32 in [0, 1]
/// (converted by the reader), or the raster's own unsigned samples with the factor that
/// maps them to [0, 1], converted on the device. A Byte tile crosses to a GPU as a
/// quarter of the bytes, through a quarter of the pinned memory; the device computes
/// `Float(sample) * scale` as the reader would, so the network sees the same floats.
public enum PixelEncoding: Hashable, Sendable, CustomStringConvertible {
    case float32
    case uint8(scale: Float)
    case uint16(scale: Float)

    public var bytesPerSample: Int {
        switch self {
        case .float32: 4
        case .uint8: 1
        case .uint16: 2
        }
    }

    /// The factor from a stored sample to its float (1 for floats, taken as they are).
    public var scale: Float {
        switch self {
        case .float32: 1
        case .uint8(let scale), .uint16(let scale): scale
        }
    }

    public var description: String {
        switch self {
        case .float32: "float32"
        case .uint8: "uint8"
        case .uint16: "uint16"
        }
    }
}
