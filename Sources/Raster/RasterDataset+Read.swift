internal import CGDAL
import Tiling

extension RasterDataset {
    /// Reads `window` of the selected bands as [0, 1] floats, band after band (CHW),
    /// into `buffer` (at least bands x height x width floats).
    ///
    /// The window may reach past the raster (a boundless read, as rasterio's
    /// `boundless=True`): the outside is 0. Stored values are converted by
    /// ``SampleType`` and nodata pixels become 0.
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

        for (b, type) in info.sampleTypes.enumerated() {
            let channel = UnsafeMutableBufferPointer(rebasing: buffer[(b * plane)..<((b + 1) * plane)])
            normalize(channel, scale: type.scale, nodata: info.nodata[b].map { Float($0) })
        }
        return inside.area * info.bytesPerPixel
    }

    private func normalize(_ values: UnsafeMutableBufferPointer<Float>, scale: Float, nodata: Float?) {
        if let nodata, !nodata.isNaN {
            for i in values.indices {
                let v = values[i]
                values[i] = v == nodata || v.isNaN ? 0 : v * scale
            }
        } else if nodata != nil || scale == 1 {
            // NaN marks missing data in float rasters whether or not it is declared.
            for i in values.indices where values[i].isNaN { values[i] = 0 }
            if scale != 1 { for i in values.indices { values[i] *= scale } }
        } else {
            for i in values.indices { values[i] *= scale }
        }
    }
}
