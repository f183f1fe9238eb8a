internal import CGDAL
import Foundation
import Tiling

/// A segmentation's class raster: one band of class ids (UInt8, or UInt16 past 255
/// classes) in the input's grid and CRS, with a nodata value where nothing was
/// predicted, the classes' names and a colour per class (QGIS shows the legend).
/// Written window by window into a tiled GeoTIFF beside the output, then made a
/// Cloud-Optimised GeoTIFF (overviews by the mode of the classes) in one pass, so memory
/// stays at GDAL's bounded block cache whatever the raster's size.
public final class ClassRasterWriter {
    public let path: String
    public let width: Int, height: Int
    /// The id of pixels nothing was predicted for: the largest the type holds.
    public let nodata: Int
    public let wide: Bool
    private let file: ScratchGeoTIFF

    /// - Parameters:
    ///   - classes: ids 0..<classes are written; `names` (as many, or nil) name them.
    public init(path: String, width: Int, height: Int, classes: Int, names: [String]?, georeference: Georeference) throws(RasterError) {
        (self.path, self.width, self.height) = (path, width, height)
        wide = classes > 255
        nodata = wide ? 65535 : 255
        guard classes <= 65535 else { throw .createFailed(path: path, reason: "\(classes) classes do not fit in 16 bits (65535 at most)") }
        file = try ScratchGeoTIFF(path: path, width: width, height: height, bands: 1, type: wide ? GDT_UInt16 : GDT_Byte, georeference: georeference)
        let band = file.band(1), scratch = file.scratch
        try GDAL.check(GDALSetRasterNoDataValue(band, Double(nodata))) { .createFailed(path: scratch, reason: $0) }
        if !wide {
            let table = GDALCreateColorTable(GPI_RGB)
            defer { GDALDestroyColorTable(table) }
            for id in 0..<256 {
                let (r, g, b) = id < classes ? Self.colour(id) : (0, 0, 0)
                var entry = GDALColorEntry(c1: Int16(r), c2: Int16(g), c3: Int16(b), c4: id == nodata ? 0 : 255)
                GDALSetColorEntry(table, Int32(id), &entry)
            }
            try GDAL.check(GDALSetRasterColorTable(band, table)) { .createFailed(path: scratch, reason: $0) }
        }
        if let names {
            var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
            for name in names { list = CSLAddString(list, name) }
            defer { CSLDestroy(list) }
            try GDAL.check(GDALSetRasterCategoryNames(band, list)) { .createFailed(path: scratch, reason: $0) }
        }
    }

    /// Writes `ids` (row-major, window.width x window.height) into `window`.
    public func write(_ window: Window, ids: [UInt16]) throws(RasterError) {
        precondition(ids.count == window.area)
        if wide {
            try file.write(band: 1, window, ids, type: GDT_UInt16)
        } else {
            try file.write(band: 1, window, ids.map { UInt8(truncatingIfNeeded: $0) }, type: GDT_Byte)
        }
    }

    /// Writes the Cloud-Optimised GeoTIFF at `path` (overviews by the mode of the classes).
    public func finish() throws(RasterError) { try file.finish(resampling: "MODE") }

    /// A colour per class: twelve well-separated hues first (ColorBrewer's "Paired"
    /// order, dark and light), then hues spaced by the golden angle.
    public static func colour(_ id: Int) -> (Int, Int, Int) {
        let paired = [
            (31, 120, 180), (51, 160, 44), (227, 26, 28), (255, 127, 0), (106, 61, 154), (177, 89, 40),
            (166, 206, 227), (178, 223, 138), (251, 154, 153), (253, 191, 111), (202, 178, 214), (255, 255, 153),
        ]
        if id < paired.count { return paired[id] }
        let hue = (Double(id) * 137.50776).truncatingRemainder(dividingBy: 360) / 60
        let x = 1 - abs(hue.truncatingRemainder(dividingBy: 2) - 1)
        let (r, g, b): (Double, Double, Double) = switch Int(hue) {
        case 0: (1, x, 0)
        case 1: (x, 1, 0)
        case 2: (0, 1, x)
        case 3: (0, x, 1)
        case 4: (x, 0, 1)
        default: (1, 0, x)
        }
        return (Int(40 + 180 * r), Int(40 + 180 * g), Int(40 + 180 * b))
    }
}

/// A class raster read whole at `width` x `height` (GDAL takes its overviews, made by
/// the mode) as RGBA in its own colour table, nodata clear: the picture a report lays
/// over the input's.
public enum ClassRasterPicture {
    public static func read(path: String, width: Int, height: Int, opacity: UInt8) throws(RasterError) -> [[UInt8]] {
        GDAL.ensureInitialized()
        guard let handle = GDALOpenEx(path, UInt32(GDAL_OF_RASTER | GDAL_OF_READONLY), nil, nil, nil) else {
            throw .unreadable(path: path, reason: GDAL.takeLastError() ?? "GDAL could not open it")
        }
        defer { GDALClose(handle) }
        let band = GDALGetRasterBand(handle, 1)
        let full = Window(colOff: 0, rowOff: 0, width: Int(GDALGetRasterXSize(handle)), height: Int(GDALGetRasterYSize(handle)))
        var ids = [UInt16](repeating: 0, count: width * height)
        let status = GDALRasterIO(band, GF_Read, 0, 0, Int32(full.width), Int32(full.height), &ids, Int32(width), Int32(height), GDT_UInt16, 0, 0)
        try GDAL.check(status) { .readFailed(path: path, window: full, reason: $0) }
        var hasNodata: Int32 = 0
        let nodata = GDALGetRasterNoDataValue(band, &hasNodata)
        let table = GDALGetRasterColorTable(band)
        var rgba = [[UInt8]](repeating: [UInt8](repeating: 0, count: ids.count), count: 4)
        for (p, id) in ids.enumerated() where hasNodata == 0 || Double(id) != nodata {
            var colour = ClassRasterWriter.colour(Int(id))
            if let table, let entry = GDALGetColorEntry(table, Int32(id))?.pointee {
                colour = (Int(entry.c1), Int(entry.c2), Int(entry.c3))
            }
            (rgba[0][p], rgba[1][p], rgba[2][p], rgba[3][p]) = (UInt8(colour.0), UInt8(colour.1), UInt8(colour.2), opacity)
        }
        return rgba
    }
}

/// zlib's deflate and inflate, as GDAL carries them: a segmentation part keeps each
/// tile's class ids compressed.
public enum Deflate {
    public static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes.count + bytes.count / 100 + 64)
        var written = 0
        let ok = bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                CPLZLibDeflate(input.baseAddress, input.count, 6, output.baseAddress, output.count, &written) != nil
            }
        }
        precondition(ok, "deflate into a buffer larger than its input cannot fail")
        return Array(out[0..<written])
    }

    /// The `count` bytes `compressed` holds; nil when it does not inflate to exactly that.
    public static func decompress(_ compressed: [UInt8], count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count + 1)
        var written = 0
        let ok = compressed.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                CPLZLibInflate(input.baseAddress, input.count, output.baseAddress, output.count, &written) != nil
            }
        }
        return ok && written == count ? Array(out[0..<count]) : nil
    }
}
