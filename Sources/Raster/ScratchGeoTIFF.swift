internal import CGDAL
import Foundation
import Tiling

/// A raster written window by window into a tiled GeoTIFF beside `path`, then made a
/// Cloud-Optimised GeoTIFF at `path` (DEFLATE, 512 px blocks, overviews) in one pass,
/// so memory stays at GDAL's bounded block cache whatever the raster's size. Bands and
/// tags are set before the first write. The
/// scratch file goes when the COG is written or the writer is dropped.
final class ScratchGeoTIFF {
    let path: String
    let scratch: String
    private var handle: GDALDatasetH?

    init(path: String, width: Int, height: Int, bands: Int, type: GDALDataType, georeference: Georeference) throws(RasterError) {
        GDAL.ensureInitialized()
        self.path = path
        scratch = path + ".partial.tif"
        guard let driver = GDALGetDriverByName("GTiff") else { throw .createFailed(path: path, reason: "GDAL has no GTiff driver") }
        let options = GDALOptions([
            ("TILED", "YES"), ("BLOCKXSIZE", "512"), ("BLOCKYSIZE", "512"), ("COMPRESS", "DEFLATE"), ("BIGTIFF", "IF_SAFER"),
            ("INTERLEAVE", "BAND"),
            // Blocks never written are never stored and read back as the nodata value: no
            // fill pass, and nothing is flushed before the writer has set its tags (a
            // palette set after a block reached the file is refused).
            ("SPARSE_OK", "TRUE"),
        ])
        guard let handle = GDALCreate(driver, scratch, Int32(width), Int32(height), Int32(bands), type, options.list) else {
            throw .createFailed(path: scratch, reason: GDAL.takeLastError() ?? "GDALCreate failed")
        }
        self.handle = handle
        var transform = georeference.transform.array
        try GDAL.check(GDALSetGeoTransform(handle, &transform)) { .createFailed(path: scratch, reason: $0) }
        if let wkt = georeference.crsWKT {
            try GDAL.check(GDALSetProjection(handle, wkt)) { .createFailed(path: scratch, reason: $0) }
        }
    }

    deinit {
        if let handle {
            GDALClose(handle)
            unlink(scratch)
        }
    }

    /// Band `index` (1-based) of the scratch file.
    func band(_ index: Int) -> GDALRasterBandH {
        guard let handle else { preconditionFailure("a band after finish") }
        return GDALGetRasterBand(handle, Int32(index))
    }

    /// Writes `values` (`window.area` of GDAL's `type`, row-major) into band `index`.
    func write<T>(band index: Int, _ window: Window, _ values: [T], type: GDALDataType) throws(RasterError) {
        precondition(values.count == window.area)
        var values = values
        let status = GDALRasterIO(
            band(index), GF_Write, Int32(window.colOff), Int32(window.rowOff), Int32(window.width), Int32(window.height),
            &values, Int32(window.width), Int32(window.height), type, 0, 0)
        try GDAL.check(status) { .writeFailed(path: scratch, reason: $0) }
    }

    /// Closes the scratch GeoTIFF and writes the Cloud-Optimised GeoTIFF at `path`,
    /// overviews made by `resampling` (a GDAL name), then removes the scratch file.
    func finish(resampling: String) throws(RasterError) {
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
        let arguments = ["-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=512", "-co", "RESAMPLING=\(resampling)",
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
        // Category names and band scales live in the GeoTIFF's .aux.xml: carried beside the final name.
        if rename(partial, path) != 0 { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
        if access(partial + ".aux.xml", F_OK) == 0 { rename(partial + ".aux.xml", path + ".aux.xml") }
    }
}
