import Tiling

/// What can go wrong with a raster, each case carrying what the user needs to fix it.
public enum RasterError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case notARaster(path: String, reason: String)
    case bandOutOfRange(path: String, band: Int, bandCount: Int)
    case unsupportedDataType(path: String, band: Int, dataType: String)
    case readFailed(path: String, window: Window, reason: String)
    case createFailed(path: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "raster file not found: \(path) (check image_path; relative paths are from the current directory)"
        case .unreadable(let path, let reason):
            "cannot read raster \(path): \(reason)"
        case .notARaster(let path, let reason):
            "\(path) is not a raster GDAL can read (GeoTIFF, COG, PNG, JPEG, VRT, ...): \(reason)"
        case .bandOutOfRange(let path, let band, let count):
            "bands: band \(band) does not exist in \(path), which has \(count) band\(count == 1 ? "" : "s") (valid: 1...\(count))"
        case .unsupportedDataType(let path, let band, let type):
            "band \(band) of \(path) holds \(type) samples; mgpr reads Byte, UInt16, Float32 and Float64 rasters"
        case .readFailed(let path, let window, let reason):
            "reading \(window) of \(path) failed: \(reason)"
        case .createFailed(let path, let reason):
            "cannot create \(path): \(reason)"
        case .writeFailed(let path, let reason):
            "writing \(path) failed: \(reason)"
        }
    }
}
