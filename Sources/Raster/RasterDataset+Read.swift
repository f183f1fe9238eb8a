internal import CGDAL
import Tiling

extension RasterDataset {
    /// Reads `window` of the selected bands as [0, 1] floats, band after band (CHW),
    /// into `buffer` (at least bands x height x width floats).
    ///
    /// The window may reach past the raster (a boundless read, as rasterio's
    /// `boundless=True`): the outside is 0. Stored values are converted by
    /// ``SampleType``; pixels GDAL's masks mark as missing (nodata, alpha, internal
    /// masks), and NaN, become 0, as rasterio's masked reads filled with 0.
    ///
    /// - Returns: the bytes of stored samples read (the part inside the raster).
    @discardableResult
    public func read(_ window: Window, into buffer: UnsafeMutableBufferPointer<Float>) throws(RasterError)
        -> Int
    {
        let plane = window.width * window.height
        precondition(buffer.count >= plane * info.bands.count, "buffer too small for \(window)")
        guard let inside = window.clipped(toWidth: info.width, height: info.height) else {
            buffer.update(repeating: 0)
            return 0
        }
        if inside != window { buffer.update(repeating: 0) }

        // GDAL reads the stored type band-sequentially (its fastest path, as rasterio's);
        // converting to floats here is cheaper than asking GDAL for Float32 with strides.
        let samples = try readSamples(inside, window: window)
        let dx = inside.colOff - window.colOff, dy = inside.rowOff - window.rowOff
        var sharedMaskRead = false
        for (b, type) in info.sampleTypes.enumerated() {
            let channel = buffer.baseAddress! + b * plane + dy * window.width + dx
            let stored = samples.baseAddress! + b * inside.area * type.byteCount
            var nodata: Double?
            if case .nodata(let value) = info.masks[b] { nodata = value }
            for row in 0..<inside.height {
                SampleConversion.convert(
                    stored + row * inside.width * type.byteCount, type: type, count: inside.width,
                    into: channel + row * window.width, nodata: nodata)
            }
            if case .maskBand(let shared) = info.masks[b] {
                if !(shared && sharedMaskRead) { try readMask(of: info.bands[b], inside: inside, window: window) }
                sharedMaskRead = shared
                applyMask(to: channel, inside: inside, rowStride: window.width)
            }
        }
        return inside.area * info.bytesPerPixel
    }

    /// The stored samples of `inside`, band after band, in `sampleScratch`.
    private func readSamples(_ inside: Window, window: Window) throws(RasterError) -> UnsafeMutableRawBufferPointer {
        let types = info.sampleTypes
        let samples = sampleScratch.reserve(inside.area * info.bytesPerPixel)
        // One call for all bands when they share a type (the usual case), else one per band.
        let groups: [(first: Int, count: Int)] =
            types.allSatisfy({ $0 == types[0] }) ? [(0, types.count)] : types.indices.map { ($0, 1) }
        for (first, count) in groups {
            let type = types[first]
            var bandMap = info.bands[first..<(first + count)].map { Int32($0) }
            let offset = types[..<first].reduce(0) { $0 + $1.byteCount } * inside.area
            let status = GDALDatasetRasterIOEx(
                handle, GF_Read,
                Int32(inside.colOff), Int32(inside.rowOff), Int32(inside.width), Int32(inside.height),
                samples.baseAddress! + offset, Int32(inside.width), Int32(inside.height), type.gdalType,
                Int32(count), &bandMap, GSpacing(type.byteCount), GSpacing(type.byteCount * inside.width),
                GSpacing(type.byteCount * inside.area), nil)
            try GDAL.check(status) { .readFailed(path: info.path, window: window, reason: $0) }
        }
        return samples
    }

    /// Reads GDAL's mask band of `band` over `inside` into `maskScratch` (0 = missing).
    private func readMask(of band: Int, inside: Window, window: Window) throws(RasterError) {
        let bytes = maskScratch.reserve(inside.area)
        let mask = GDALGetMaskBand(GDALGetRasterBand(handle, Int32(band)))
        let status = GDALRasterIO(
            mask, GF_Read, Int32(inside.colOff), Int32(inside.rowOff), Int32(inside.width), Int32(inside.height),
            bytes.baseAddress, Int32(inside.width), Int32(inside.height), GDT_Byte, 0, 0)
        try GDAL.check(status) { .readFailed(path: info.path, window: window, reason: "mask band: \($0)") }
    }

    private func applyMask(to channel: UnsafeMutablePointer<Float>, inside: Window, rowStride: Int) {
        let mask = maskScratch.bytes
        for row in 0..<inside.height {
            let line = channel + row * rowStride
            let maskLine = row * inside.width
            for col in 0..<inside.width where mask[maskLine + col] == 0 { line[col] = 0 }
        }
    }
}
