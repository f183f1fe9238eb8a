internal import CGDAL
import Foundation
import Platform
import Tiling

/// An open raster: one GDAL dataset handle, closed when this object goes away.
///
/// GDAL handles must not be shared across threads, so this class is not `Sendable`:
/// each reader thread opens its own from the same path (opening is cheap; the block
/// cache is process-wide).
public final class RasterDataset {
    public let info: RasterInfo
    /// Whether reads keep stored values or zero the dataset mask's missing pixels.
    public let missing: MissingPixels
    let handle: GDALDatasetH
    /// Reused for stored samples, the dataset mask and band masks, so reading a tile
    /// allocates nothing.
    var sampleScratch = ScratchBuffer()
    var maskScratch = ScratchBuffer()
    var bandMaskScratch = ScratchBuffer()

    /// Opens `path` read-only and checks that `bands` exist and can be read.
    public init(path: String, bands: [Int], missing: MissingPixels = .keep) throws(RasterError) {
        self.missing = missing
        GDAL.ensureInitialized()
        let remote = RemoteRaster.isRemote(path)
        if remote { RemoteRaster.configure() } else { try Self.checkFile(path) }
        guard let handle = GDALOpenEx(RemoteRaster.gdalPath(path), UInt32(GDAL_OF_RASTER | GDAL_OF_READONLY), nil, nil, nil)
        else {
            let reason = GDAL.takeLastError() ?? "no driver recognised it"
            guard remote else { throw .notARaster(path: path, reason: reason) }
            throw .unreadable(path: path, reason: RemoteRaster.problem(with: path) ?? reason)
        }
        self.handle = handle
        do {
            info = try Self.describe(handle, path: path, bands: bands)
        } catch {
            GDALClose(handle)
            throw error
        }
    }

    deinit { GDALClose(handle) }

    private static func checkFile(_ path: String) throws(RasterError) {
        // GDAL's virtual file systems (/vsimem/, /vsizip/, ...) are not on disk.
        guard !path.hasPrefix("/vsi") else { return }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        if isDirectory.boolValue { throw .notARaster(path: path, reason: "it is a directory") }
        // GDAL would open a FIFO and wait for a writer forever, deaf to signals.
        if let kind = FileKind.special(path) { throw .notARaster(path: path, reason: "it is \(kind), not a file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .unreadable(path: path, reason: "permission denied")
        }
    }

    private static func describe(_ handle: GDALDatasetH, path: String, bands: [Int]) throws(RasterError)
        -> RasterInfo
    {
        let bandCount = Int(GDALGetRasterCount(handle))
        guard bandCount > 0 else { throw .notARaster(path: path, reason: "it has no raster bands") }
        var types: [SampleType] = []
        var nodata: [Double?] = []
        var masks: [PixelMask] = []
        for band in bands {
            guard band >= 1 && band <= bandCount else {
                throw .bandOutOfRange(path: path, band: band, bandCount: bandCount)
            }
            let bandHandle = GDALGetRasterBand(handle, Int32(band))
            let gdalType = GDALGetRasterDataType(bandHandle)
            guard let type = SampleType(gdalType) else {
                throw .unsupportedDataType(path: path, band: band, dataType: SampleType.name(of: gdalType))
            }
            types.append(type)
            var hasNodata: Int32 = 0
            let value = GDALGetRasterNoDataValue(bandHandle, &hasNodata)
            nodata.append(hasNodata != 0 ? value : nil)
            masks.append(mask(of: bandHandle, nodata: nodata.last!))
        }
        var blockWidth: Int32 = 0, blockHeight: Int32 = 0
        GDALGetBlockSize(GDALGetRasterBand(handle, 1), &blockWidth, &blockHeight)
        let driver = GDALGetDatasetDriver(handle).map { String(cString: GDALGetDriverShortName($0)) } ?? "?"
        return RasterInfo(
            path: path, driver: driver,
            width: Int(GDALGetRasterXSize(handle)), height: Int(GDALGetRasterYSize(handle)),
            bandCount: bandCount, bands: bands, sampleTypes: types, nodata: nodata, masks: masks,
            georeference: georeference(of: handle),
            blockWidth: Int(blockWidth), blockHeight: Int(blockHeight))
    }

    private static func mask(of band: GDALRasterBandH?, nodata: Double?) -> PixelMask {
        let flags = GDALGetMaskFlags(band)
        if flags & GMF_ALL_VALID != 0 { return .allValid }
        if flags == GMF_NODATA, let nodata { return .nodata(nodata) }
        return .maskBand(shared: flags & GMF_PER_DATASET != 0)
    }

    private static func georeference(of handle: GDALDatasetH) -> Georeference {
        var coefficients = [Double](repeating: 0, count: 6)
        let hasTransform = GDALGetGeoTransform(handle, &coefficients) == CE_None
        _ = GDAL.takeLastError()  // "no geotransform" is not an error for us
        let wkt = GDALGetProjectionRef(handle).map { String(cString: $0) } ?? ""
        return Georeference(
            transform: hasTransform ? GeoTransform(coefficients) : .identity,
            crsWKT: wkt.isEmpty ? nil : wkt)
    }
}

extension RasterInfo {
    /// A short human name for the CRS ("EPSG:32617" where GDAL can tell, else the WKT's name).
    public var crsName: String? {
        guard let wkt = georeference.crsWKT else { return nil }
        GDAL.ensureInitialized()
        guard let srs = OSRNewSpatialReference(wkt) else { return nil }
        defer { OSRDestroySpatialReference(srs) }
        if OSRAutoIdentifyEPSG(srs) == OGRERR_NONE,
            let authority = OSRGetAuthorityName(srs, nil), let code = OSRGetAuthorityCode(srs, nil)
        {
            return "\(String(cString: authority)):\(String(cString: code))"
        }
        return OSRGetName(srs).map { String(cString: $0) }
    }
}
