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
        let bands = info.bands
        let plane = window.width * window.height
        precondition(buffer.count >= plane * bands.count, "buffer too small for \(window)")
        guard let inside = window.clipped(toWidth: info.width, height: info.height) else {
            buffer.update(repeating: 0)
            return 0
        }
        if inside != window { buffer.update(repeating: 0) }

        // Read only the part that exists, straight into its place in the tile:
        // GDAL converts to Float32 and lays out the bands with the spacings given.
        let dx = inside.colOff - window.colOff, dy = inside.rowOff - window.rowOff
        let start = buffer.baseAddress! + dy * window.width + dx
        var bandMap = bands.map { Int32($0) }
        let floatSize = MemoryLayout<Float>.stride
        let status = GDALDatasetRasterIOEx(
            handle, GF_Read,
            Int32(inside.colOff), Int32(inside.rowOff), Int32(inside.width), Int32(inside.height),
            start, Int32(inside.width), Int32(inside.height), GDT_Float32,
            Int32(bands.count), &bandMap,
            GSpacing(floatSize), GSpacing(floatSize * window.width), GSpacing(floatSize * plane), nil)
        try GDAL.check(status) { .readFailed(path: info.path, window: window, reason: $0) }

        var sharedMaskRead = false
        for (b, type) in info.sampleTypes.enumerated() {
            let channel = UnsafeMutableBufferPointer(rebasing: buffer[(b * plane)..<((b + 1) * plane)])
            let isFloat = type == .float32 || type == .float64
            switch info.masks[b] {
            case .allValid:
                scale(channel, by: type.scale, zeroingNaN: isFloat)
            case .nodata(let value):
                scale(channel, by: type.scale, zeroing: Float(value), zeroingNaN: isFloat)
            case .maskBand(let shared):
                if !(shared && sharedMaskRead) { try readMask(of: bands[b], inside: inside, window: window) }
                sharedMaskRead = shared
                applyMask(to: channel, inside: inside, window: window)
                scale(channel, by: type.scale, zeroingNaN: isFloat)
            }
        }
        return inside.area * info.bytesPerPixel
    }

    private func scale(
        _ values: UnsafeMutableBufferPointer<Float>, by factor: Float, zeroing nodata: Float? = nil,
        zeroingNaN: Bool
    ) {
        // Separate loops so the common cases stay simple enough to vectorise.
        if let nodata, !nodata.isNaN {
            for i in values.indices { values[i] = values[i] == nodata ? 0 : values[i] * factor }
        } else if factor != 1 {
            for i in values.indices { values[i] *= factor }
        }
        if zeroingNaN { for i in values.indices where values[i].isNaN { values[i] = 0 } }
    }

    /// Reads GDAL's mask band of `band` over `inside` into `maskScratch` (0 = missing).
    private func readMask(of band: Int, inside: Window, window: Window) throws(RasterError) {
        if maskScratch.count < inside.area { maskScratch = [UInt8](repeating: 0, count: inside.area) }
        let mask = GDALGetMaskBand(GDALGetRasterBand(handle, Int32(band)))
        let status = maskScratch.withUnsafeMutableBytes { bytes in
            GDALRasterIO(
                mask, GF_Read, Int32(inside.colOff), Int32(inside.rowOff), Int32(inside.width), Int32(inside.height),
                bytes.baseAddress, Int32(inside.width), Int32(inside.height), GDT_Byte, 0, 0)
        }
        try GDAL.check(status) { .readFailed(path: info.path, window: window, reason: "mask band: \($0)") }
    }

    private func applyMask(to channel: UnsafeMutableBufferPointer<Float>, inside: Window, window: Window) {
        let dx = inside.colOff - window.colOff, dy = inside.rowOff - window.rowOff
        for row in 0..<inside.height {
            let line = (row + dy) * window.width + dx
            let maskLine = row * inside.width
            for col in 0..<inside.width where maskScratch[maskLine + col] == 0 { channel[line + col] = 0 }
        }
    }
}
