internal import CGDAL
import Tiling

extension RasterDataset {
    /// Reads `window` of the selected bands as [0, 1] floats, band after band (CHW),
    /// into `buffer` (at least bands x height x width floats).
    ///
    /// The window may reach past the raster (a boundless read, as rasterio's
    /// `boundless=True`): the outside is 0. Stored values are converted by
    /// ``SampleType``, as stored (NaN reads as 0, so one hole cannot poison a whole
    /// tile's features); with ``MissingPixels/zero`` the pixels the dataset's mask
    /// marks as missing become 0 in every band.
    ///
    /// - Returns: the bytes of stored samples read (the part inside the raster).
    @discardableResult
    public func read(_ window: Window, into buffer: UnsafeMutableBufferPointer<Float>) throws(RasterError)
        -> Int
    {
        try read(window, into: buffer, checkingEmptiness: false).bytes
    }

    /// ``read(_:into:)``, also saying whether the window holds no data: every pixel
    /// inside the raster missing by the dataset mask, or every band one value there (a
    /// no-data collar, a blank scan). Decided from what the read already holds (the
    /// stored samples, the floats; only an alpha band or internal mask is read besides).
    /// `missing`, when given (window-sized, zeroed), gets 1 for every pixel the dataset
    /// mask marks missing or outside the raster.
    public func read(
        _ window: Window, into buffer: UnsafeMutableBufferPointer<Float>, checkingEmptiness: Bool,
        missing marks: UnsafeMutableBufferPointer<UInt8>? = nil
    ) throws(RasterError) -> (bytes: Int, empty: Bool) {
        precondition(buffer.count >= window.area * info.bands.count, "buffer too small for \(window)")
        return try read(window, into: .floats(buffer.baseAddress!), checkingEmptiness: checkingEmptiness, missing: marks)
    }

    /// ``read(_:into:checkingEmptiness:missing:)`` with the samples as stored (every band
    /// of one type, ``storedType``), unconverted: 0 outside the raster, and for the
    /// pixels the dataset mask marks missing with ``MissingPixels/zero``, as the floats
    /// would be. For a device that converts them itself.
    public func read(
        _ window: Window, stored buffer: UnsafeMutableRawBufferPointer, checkingEmptiness: Bool,
        missing marks: UnsafeMutableBufferPointer<UInt8>? = nil
    ) throws(RasterError) -> (bytes: Int, empty: Bool) {
        guard let type = info.storedType else { preconditionFailure("bands of several types have no one stored form") }
        precondition(buffer.count >= window.area * info.bands.count * type.byteCount, "buffer too small for \(window)")
        return try read(window, into: .stored(buffer.baseAddress!, bytes: type.byteCount), checkingEmptiness: checkingEmptiness,
                        missing: marks)
    }

    /// Where a read puts the pixels: floats, or stored samples of `bytes` each.
    private enum Destination {
        case floats(UnsafeMutablePointer<Float>)
        case stored(UnsafeMutableRawPointer, bytes: Int)

        func zero(count: Int) {
            switch self {
            case .floats(let p): p.update(repeating: 0, count: count)
            case .stored(let p, let bytes): p.initializeMemory(as: UInt8.self, repeating: 0, count: count * bytes)
            }
        }

        /// `count` samples of `type` from `stored` to element `at`.
        func put(_ stored: UnsafeRawPointer, type: SampleType, count: Int, at: Int) {
            switch self {
            case .floats(let p): SampleConversion.convert(stored, type: type, count: count, into: p + at)
            case .stored(let p, let bytes): (p + at * bytes).copyMemory(from: stored, byteCount: count * bytes)
            }
        }

        func zero(at: Int) {
            switch self {
            case .floats(let p): p[at] = 0
            case .stored(let p, let bytes): (p + at * bytes).initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            }
        }

        func equal(_ a: Int, _ b: Int) -> Bool {
            switch self {
            case .floats(let p): p[a] == p[b]
            case .stored(let p, let bytes): memcmp(p + a * bytes, p + b * bytes, bytes) == 0
            }
        }
    }

    private func read(
        _ window: Window, into out: Destination, checkingEmptiness: Bool, missing marks: UnsafeMutableBufferPointer<UInt8>?
    ) throws(RasterError) -> (bytes: Int, empty: Bool) {
        let plane = window.width * window.height
        precondition(marks.map { $0.count == plane } ?? true, "a missing-pixel mask of the window's size")
        guard let inside = window.clipped(toWidth: info.width, height: info.height) else {
            out.zero(count: plane * info.bands.count)
            marks?.update(repeating: 1)
            return (0, true)
        }
        if inside != window {
            out.zero(count: plane * info.bands.count)
            if let marks {
                marks.update(repeating: 1)
                for row in 0..<inside.height {
                    let start = (inside.rowOff - window.rowOff + row) * window.width + inside.colOff - window.colOff
                    marks[start..<(start + inside.width)].update(repeating: 0)
                }
            }
        }

        // GDAL reads the stored type band-sequentially (its fastest path, as rasterio's);
        // converting to floats here is cheaper than asking GDAL for Float32 with strides.
        let samples = try readSamples(inside, window: window)
        let origin = (inside.rowOff - window.rowOff) * window.width + (inside.colOff - window.colOff)
        var offset = 0
        for (b, type) in info.sampleTypes.enumerated() {
            let stored = samples.baseAddress! + offset
            for row in 0..<inside.height {
                out.put(stored + row * inside.width * type.byteCount, type: type, count: inside.width,
                        at: b * plane + origin + row * window.width)
            }
            offset += inside.area * type.byteCount
        }
        let bytes = inside.area * info.bytesPerPixel
        let valid = missing == .zero || checkingEmptiness || marks != nil ? try datasetMask(inside, samples: samples, window: window) : nil
        if let marks, let valid {
            for row in 0..<inside.height {
                let start = (inside.rowOff - window.rowOff + row) * window.width + inside.colOff - window.colOff
                for col in 0..<inside.width where valid[row * inside.width + col] == 0 { marks[start + col] = 1 }
            }
        }
        if missing == .zero, let valid {
            for b in info.bands.indices {
                for row in 0..<inside.height {
                    let line = b * plane + origin + row * window.width, flags = valid + row * inside.width
                    for col in 0..<inside.width where flags[col] == 0 { out.zero(at: line + col) }
                }
            }
        }
        guard checkingEmptiness else { return (bytes, false) }
        if let valid, !(0..<inside.area).contains(where: { valid[$0] != 0 }) { return (bytes, true) }
        return (bytes, isUniform(out, origin: origin, plane: plane, inside: inside, rowStride: window.width))
    }

    /// Whether every band holds one value over `inside` (stops at the first difference,
    /// so a tile with data costs a few comparisons).
    private func isUniform(_ out: Destination, origin: Int, plane: Int, inside: Window, rowStride: Int) -> Bool {
        for b in info.bands.indices {
            let first = origin + b * plane
            for row in 0..<inside.height {
                let line = first + row * rowStride
                for col in 0..<inside.width where !out.equal(line + col, first) { return false }
            }
        }
        return true
    }

    /// The dataset's mask over `inside` (non-zero: valid), as rasterio's `dataset_mask()`
    /// over the selected bands: the one mask an alpha band or internal mask gives every
    /// band, else a pixel is valid where any band's own mask says so. Nil when no pixel
    /// can be missing.
    private func datasetMask(_ inside: Window, samples: UnsafeMutableRawBufferPointer, window: Window)
        throws(RasterError) -> UnsafePointer<UInt8>?
    {
        if let shared = info.masks.firstIndex(of: .maskBand(shared: true)) {
            return UnsafePointer(try readMask(of: info.bands[shared], into: &maskScratch, inside: inside, window: window))
        }
        if info.masks.contains(.allValid) { return nil }
        let valid = maskScratch.reserve(inside.area).bindMemory(to: UInt8.self).baseAddress!
        valid.update(repeating: 0, count: inside.area)
        var offset = 0
        for (b, type) in info.sampleTypes.enumerated() {
            switch info.masks[b] {
            case .nodata(let value):
                SampleConversion.markValid(samples.baseAddress! + offset, type: type, count: inside.area, nodata: value, into: valid)
            case .maskBand, .allValid:
                let own = try readMask(of: info.bands[b], into: &bandMaskScratch, inside: inside, window: window)
                for i in 0..<inside.area where own[i] != 0 { valid[i] = 1 }
            }
            offset += inside.area * type.byteCount
        }
        return UnsafePointer(valid)
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

    /// Reads GDAL's mask band of `band` over `inside` into `scratch` (0 = missing).
    private func readMask(of band: Int, into scratch: inout ScratchBuffer, inside: Window, window: Window)
        throws(RasterError) -> UnsafeMutablePointer<UInt8>
    {
        let bytes = scratch.reserve(inside.area)
        let mask = GDALGetMaskBand(GDALGetRasterBand(handle, Int32(band)))
        let status = GDALRasterIO(
            mask, GF_Read, Int32(inside.colOff), Int32(inside.rowOff), Int32(inside.width), Int32(inside.height),
            bytes.baseAddress, Int32(inside.width), Int32(inside.height), GDT_Byte, 0, 0)
        try GDAL.check(status) { .readFailed(path: info.path, window: window, reason: "mask band: \($0)") }
        return bytes.bindMemory(to: UInt8.self).baseAddress!
    }
}
