internal import CGDAL
import Foundation
import Tiling

/// A segmentation's probabilities: one band per class, named after it, in the input's
/// grid and CRS. Bytes hold the probability times 254 (the bands' GDAL scale, 1/254,
/// turns them back; 255 is nodata, so a certain class still reads 1); floats hold it
/// as it is, NaN where nothing was predicted. Written as ``ClassRasterWriter`` is,
/// then made a Cloud-Optimised GeoTIFF with averaged overviews.
public final class ProbabilityRasterWriter {
    public static let byteScale: Float = 254
    public let path: String
    public let classes: Int
    public let float: Bool
    private let file: ScratchGeoTIFF

    public init(
        path: String, width: Int, height: Int, classes: Int, float: Bool, names: [String]?, georeference: Georeference
    ) throws(RasterError) {
        (self.path, self.classes, self.float) = (path, classes, float)
        file = try ScratchGeoTIFF(
            path: path, width: width, height: height, bands: classes, type: float ? GDT_Float32 : GDT_Byte, georeference: georeference)
        let scratch = file.scratch
        for c in 0..<classes {
            let band = file.band(c + 1)
            let nodata = float ? Double.nan : 255
            try GDAL.check(GDALSetRasterNoDataValue(band, nodata)) { .createFailed(path: scratch, reason: $0) }
            if !float {
                try GDAL.check(GDALSetRasterScale(band, 1 / Double(Self.byteScale))) { .createFailed(path: scratch, reason: $0) }
                try GDAL.check(GDALSetRasterOffset(band, 0)) { .createFailed(path: scratch, reason: $0) }
            }
            GDALSetDescription(band, names.map { c < $0.count ? $0[c] : String(c) } ?? "class \(c)")
        }
    }

    /// Writes `probabilities` (a row-major plane per class over `window`; NaN: nothing
    /// predicted) into `window`.
    public func write(_ window: Window, probabilities: [Float]) throws(RasterError) {
        precondition(probabilities.count == window.area * classes)
        for c in 0..<classes {
            let plane = probabilities[(c * window.area)..<((c + 1) * window.area)]
            if float {
                try file.write(band: c + 1, window, Array(plane), type: GDT_Float32)
            } else {
                let bytes = plane.map { $0.isNaN ? UInt8(255) : UInt8(($0 * Self.byteScale).rounded().clamped(0, Self.byteScale)) }
                try file.write(band: c + 1, window, bytes, type: GDT_Byte)
            }
        }
    }

    /// Writes the Cloud-Optimised GeoTIFF at `path` (overviews by the average).
    public func finish() throws(RasterError) { try file.finish(resampling: "AVERAGE") }
}

private extension Float {
    func clamped(_ low: Float, _ high: Float) -> Float { Swift.min(Swift.max(self, low), high) }
}
