internal import CGDAL
import Tiling

/// A tiled, DEFLATE-compressed GeoTIFF written block by block, so memory stays at one
/// block (plus GDAL's bounded cache) whatever the image size.
public final class GeoTIFFWriter {
    public let path: String
    public let width: Int
    public let height: Int
    public let bandCount: Int
    /// Side of the TIFF's internal tiles (a multiple of 16, as TIFF requires).
    public let blockSize: Int
    private var handle: GDALDatasetH?

    public init(
        path: String, width: Int, height: Int, bandCount: Int, blockSize requested: Int,
        georeference: Georeference
    ) throws(RasterError) {
        GDAL.ensureInitialized()
        guard let driver = GDALGetDriverByName("GTiff") else {
            throw .createFailed(path: path, reason: "GDAL has no GTiff driver")
        }
        // TIFF tiles must be multiples of 16 pixels; round to the nearest valid size.
        let blockSize = max(16, (requested + 8) / 16 * 16)
        let options = GDALOptions([
            ("TILED", "YES"), ("BLOCKXSIZE", "\(blockSize)"), ("BLOCKYSIZE", "\(blockSize)"),
            ("COMPRESS", "DEFLATE"), ("PREDICTOR", "1"), ("NUM_THREADS", "ALL_CPUS"),
            // Past 4 GiB a classic TIFF cannot address its data. Deflated random pixels
            // are as large as raw ones, so decide on the raw size, with a margin.
            ("BIGTIFF", "IF_SAFER"),
        ])
        guard
            let handle = GDALCreate(
                driver, path, Int32(width), Int32(height), Int32(bandCount), GDT_Byte, options.list)
        else {
            throw .createFailed(path: path, reason: GDAL.takeLastError() ?? "GDALCreate failed")
        }
        self.handle = handle
        (self.path, self.width, self.height, self.bandCount, self.blockSize) =
            (path, width, height, bandCount, blockSize)

        var transform = georeference.transform.array
        try GDAL.check(GDALSetGeoTransform(handle, &transform)) { .createFailed(path: path, reason: $0) }
        if let wkt = georeference.crsWKT {
            try GDAL.check(GDALSetProjection(handle, wkt)) { .createFailed(path: path, reason: $0) }
        }
    }

    /// The grid of internal blocks, row-major; edge blocks are cut to the image.
    public var blocks: [Window] {
        stride(from: 0, to: height, by: blockSize).flatMap { row in
            stride(from: 0, to: width, by: blockSize).map { col in
                Window(
                    colOff: col, rowOff: row,
                    width: min(blockSize, width - col), height: min(blockSize, height - row))
            }
        }
    }

    /// Writes band-sequential bytes (bands x window.height x window.width) into `window`.
    public func write(_ window: Window, bytes: UnsafeRawBufferPointer) throws(RasterError) {
        guard let handle else { preconditionFailure("write after close") }
        precondition(bytes.count >= window.area * bandCount)
        var bandMap = (1...bandCount).map { Int32($0) }
        let status = GDALDatasetRasterIOEx(
            handle, GF_Write,
            Int32(window.colOff), Int32(window.rowOff), Int32(window.width), Int32(window.height),
            UnsafeMutableRawPointer(mutating: bytes.baseAddress), Int32(window.width), Int32(window.height),
            GDT_Byte, Int32(bandCount), &bandMap,
            1, GSpacing(window.width), GSpacing(window.area), nil)
        try GDAL.check(status) { .writeFailed(path: path, reason: $0) }
    }

    /// Flushes and closes the file; a failure to write the last blocks is reported here.
    public func close() throws(RasterError) {
        guard let handle else { return }
        self.handle = nil
        GDALFlushCache(handle)
        let flushError = GDAL.takeLastError()
        GDALClose(handle)
        if let message = flushError ?? GDAL.takeLastError() { throw .writeFailed(path: path, reason: message) }
    }

    deinit { if let handle { GDALClose(handle) } }
}
