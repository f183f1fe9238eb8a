internal import CGDAL
import Foundation
import Tiling

/// A small image encoded by GDAL's own drivers (an in-memory dataset copied into
/// `/vsimem/`), so a report can inline it without another library: PNG for exact
/// colours (tile states), JPEG for photographs (a raster's picture, a tenth the size).
public enum PNGImage {
    public enum Format: String, Sendable { case png = "PNG", jpeg = "JPEG" }

    /// The encoded bytes of `bands` (1: grey, 3: RGB, 4: RGBA; JPEG takes 1 or 3), each
    /// `width` x `height` bytes, row-major.
    public static func encode(bands: [[UInt8]], width: Int, height: Int, format: Format = .png) throws(RasterError) -> Data {
        GDAL.ensureInitialized()
        precondition([1, 3, 4].contains(bands.count) && bands.allSatisfy { $0.count == width * height })
        guard let mem = GDALGetDriverByName("MEM"), let png = GDALGetDriverByName(format.rawValue) else {
            throw .createFailed(path: "\(format.rawValue) image", reason: "GDAL has no MEM or \(format.rawValue) driver")
        }
        guard let dataset = GDALCreate(mem, "", Int32(width), Int32(height), Int32(bands.count), GDT_Byte, nil) else {
            throw .createFailed(path: "PNG image", reason: GDAL.takeLastError() ?? "GDALCreate failed")
        }
        defer { GDALClose(dataset) }
        for (b, values) in bands.enumerated() {
            var values = values
            let status = GDALRasterIO(
                GDALGetRasterBand(dataset, Int32(b + 1)), GF_Write, 0, 0, Int32(width), Int32(height), &values,
                Int32(width), Int32(height), GDT_Byte, 0, 0)
            try GDAL.check(status) { .writeFailed(path: "PNG image", reason: $0) }
        }
        let name = "/vsimem/mgpr-\(UUID().uuidString).png"
        let options = GDALOptions(format == .jpeg ? [("QUALITY", "80")] : [])
        guard let copy = GDALCreateCopy(png, name, dataset, 0, options.list, nil, nil) else {
            throw .createFailed(path: "PNG image", reason: GDAL.takeLastError() ?? "PNG driver failed")
        }
        GDALClose(copy)
        defer { VSIUnlink(name) }
        var length: vsi_l_offset = 0
        guard let bytes = VSIGetMemFileBuffer(name, &length, 0) else {
            throw .createFailed(path: "PNG image", reason: "no PNG was written")
        }
        return Data(bytes: bytes, count: Int(length))
    }
}

extension RasterDataset {
    /// The selected bands (the first three, or the first as grey) read whole at most
    /// `maxSide` px on the long side (GDAL takes the overviews where the file has them),
    /// each stretched from its 2nd to 98th percentile to bytes: a picture of the raster.
    public func thumbnail(maxSide: Int) throws(RasterError) -> (bands: [[UInt8]], width: Int, height: Int) {
        let scale = min(1, Double(maxSide) / Double(max(info.width, info.height)))
        let width = max(1, Int(Double(info.width) * scale)), height = max(1, Int(Double(info.height) * scale))
        let shown = Array(info.bands.prefix(info.bands.count >= 3 ? 3 : 1))
        var bands: [[UInt8]] = []
        for band in shown {
            var values = [Float](repeating: 0, count: width * height)
            let status = GDALRasterIO(
                GDALGetRasterBand(handle, Int32(band)), GF_Read, 0, 0, Int32(info.width), Int32(info.height), &values,
                Int32(width), Int32(height), GDT_Float32, 0, 0)
            try GDAL.check(status) { .readFailed(path: info.path, window: Window(colOff: 0, rowOff: 0, width: info.width, height: info.height), reason: $0) }
            let finite = values.filter { $0.isFinite }.sorted()
            let low = finite.isEmpty ? 0 : finite[finite.count / 50], high = finite.isEmpty ? 1 : finite[finite.count * 49 / 50]
            let span = max(high - low, 1e-6)
            bands.append(values.map { v in v.isFinite ? UInt8(max(0, min(255, (v - low) / span * 255))) : 0 })
        }
        return (bands, width, height)
    }
}
