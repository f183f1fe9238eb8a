internal import CGDAL

/// How the samples of a band become the [0, 1] floats a network sees.
///
/// - Byte: value / 255.
/// - UInt16: value / 65535 (the full range; 12-bit sensors then use 0...0.0625).
/// - Float32, Float64: used as stored. Floating-point rasters are reflectances or
///   already-normalised products; any fixed rescaling would be a guess.
///
/// Pixels equal to the band's nodata value (or NaN) become 0, the same value a
/// boundless read gives outside the raster.
public enum SampleType: String, Sendable, CaseIterable {
    case byte = "Byte"
    case uint16 = "UInt16"
    case float32 = "Float32"
    case float64 = "Float64"

    /// The factor that maps a stored value to the [0, 1] float.
    public var scale: Float {
        switch self {
        case .byte: 1 / 255
        case .uint16: 1 / 65535
        case .float32, .float64: 1
        }
    }

    /// Bytes per stored sample, for the bytes-read accounting.
    public var byteCount: Int {
        switch self {
        case .byte: 1
        case .uint16: 2
        case .float32: 4
        case .float64: 8
        }
    }

    var gdalType: GDALDataType {
        switch self {
        case .byte: GDT_Byte
        case .uint16: GDT_UInt16
        case .float32: GDT_Float32
        case .float64: GDT_Float64
        }
    }

    init?(_ type: GDALDataType) {
        switch type {
        case GDT_Byte: self = .byte
        case GDT_UInt16: self = .uint16
        case GDT_Float32: self = .float32
        case GDT_Float64: self = .float64
        default: return nil
        }
    }

    static func name(of type: GDALDataType) -> String { String(cString: GDALGetDataTypeName(type)) }
}
