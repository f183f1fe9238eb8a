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
    private let scratch: String
    private var handle: GDALDatasetH?

    /// - Parameters:
    ///   - classes: ids 0..<classes are written; `names` (as many, or nil) name them.
    public init(path: String, width: Int, height: Int, classes: Int, names: [String]?, georeference: Georeference) throws(RasterError) {
        GDAL.ensureInitialized()
        (self.path, self.width, self.height) = (path, width, height)
        wide = classes > 255
        nodata = wide ? 65535 : 255
        guard classes <= 65535 else { throw .createFailed(path: path, reason: "\(classes) classes do not fit in 16 bits (65535 at most)") }
        scratch = path + ".partial.tif"
        guard let driver = GDALGetDriverByName("GTiff") else { throw .createFailed(path: path, reason: "GDAL has no GTiff driver") }
        let options = GDALOptions([
            ("TILED", "YES"), ("BLOCKXSIZE", "512"), ("BLOCKYSIZE", "512"), ("COMPRESS", "DEFLATE"), ("BIGTIFF", "IF_SAFER"),
        ])
        guard let handle = GDALCreate(driver, scratch, Int32(width), Int32(height), 1, wide ? GDT_UInt16 : GDT_Byte, options.list) else {
            throw .createFailed(path: scratch, reason: GDAL.takeLastError() ?? "GDALCreate failed")
        }
        self.handle = handle
        var transform = georeference.transform.array
        try GDAL.check(GDALSetGeoTransform(handle, &transform)) { .createFailed(path: scratch, reason: $0) }
        if let wkt = georeference.crsWKT {
            try GDAL.check(GDALSetProjection(handle, wkt)) { .createFailed(path: scratch, reason: $0) }
        }
        let band = GDALGetRasterBand(handle, 1)
        try GDAL.check(GDALSetRasterNoDataValue(band, Double(nodata))) { .createFailed(path: scratch, reason: $0) }
        // Blocks never written read back as nodata.
        try GDAL.check(GDALFillRaster(band, Double(nodata), 0)) { .createFailed(path: scratch, reason: $0) }
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

    deinit {
        if let handle {
            GDALClose(handle)
            unlink(scratch)
        }
    }

    /// Writes `ids` (row-major, window.width x window.height) into `window`.
    public func write(_ window: Window, ids: [UInt16]) throws(RasterError) {
        guard let handle else { preconditionFailure("write after finish") }
        precondition(ids.count == window.area)
        let band = GDALGetRasterBand(handle, 1)
        let status: CPLErr
        if wide {
            var values = ids
            status = GDALRasterIO(band, GF_Write, Int32(window.colOff), Int32(window.rowOff), Int32(window.width), Int32(window.height),
                                  &values, Int32(window.width), Int32(window.height), GDT_UInt16, 0, 0)
        } else {
            var bytes = ids.map { UInt8(truncatingIfNeeded: $0) }
            status = GDALRasterIO(band, GF_Write, Int32(window.colOff), Int32(window.rowOff), Int32(window.width), Int32(window.height),
                                  &bytes, Int32(window.width), Int32(window.height), GDT_Byte, 0, 0)
        }
        try GDAL.check(status) { .writeFailed(path: scratch, reason: $0) }
    }

    /// Closes the scratch GeoTIFF and writes the Cloud-Optimised GeoTIFF at `path`
    /// (DEFLATE, 512 px blocks, overviews by mode), then removes the scratch file.
    public func finish() throws(RasterError) {
        guard let handle else { return }
        self.handle = nil
        GDALFlushCache(handle)
        if let message = GDAL.takeLastError() {
            GDALClose(handle)
            unlink(scratch)
            throw .writeFailed(path: scratch, reason: message)
        }
        defer {
            GDALClose(handle)
            unlink(scratch)
        }
        let arguments = ["-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=512", "-co", "RESAMPLING=MODE",
                         "-co", "OVERVIEWS=AUTO", "-co", "BIGTIFF=IF_SAFER", "-co", "NUM_THREADS=ALL_CPUS"]
        var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        for argument in arguments { list = CSLAddString(list, argument) }
        defer { CSLDestroy(list) }
        guard let options = GDALTranslateOptionsNew(list, nil) else {
            throw .writeFailed(path: path, reason: GDAL.takeLastError() ?? "GDALTranslateOptionsNew failed")
        }
        defer { GDALTranslateOptionsFree(options) }
        let partial = path + ".partial"
        var failed: Int32 = 0
        guard let written = GDALTranslate(partial, handle, options, &failed), failed == 0 else {
            unlink(partial)
            throw .writeFailed(path: path, reason: GDAL.takeLastError() ?? "GDALTranslate to a COG failed")
        }
        GDALClose(written)
        if let message = GDAL.takeLastError() {
            unlink(partial)
            throw .writeFailed(path: path, reason: message)
        }
        // Category names live in the GeoTIFF's .aux.xml: carried beside the final name.
        if rename(partial, path) != 0 { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
        if access(partial + ".aux.xml", F_OK) == 0 { rename(partial + ".aux.xml", path + ".aux.xml") }
    }

    /// A colour per class: twelve well-separated hues first (ColorBrewer's "Paired"
    /// order, dark and light), then hues spaced by the golden angle.
    static func colour(_ id: Int) -> (Int, Int, Int) {
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
