import Foundation
import Testing
import TestSupport
import Tiling
@testable import Raster

/// Reads through mgpr compared with rasterio's reads of the same windows, zero outside
/// the raster (reference/read_windows.py): values as stored (`nodata=keep`, the seed's
/// plain read) and with the dataset mask's missing pixels zeroed (`nodata=zero`,
/// rasterio's `dataset_mask()`). Tolerance: 1e-6 absolute, one float rounding of the
/// scale factor.
@Suite("Raster reads match rasterio")
struct RasterReadTests {
    static let windows = [
        Window(colOff: 0, rowOff: 0, width: 128, height: 128),  // inside
        Window(colOff: 300, rowOff: 320, width: 128, height: 128),  // over the bottom-right edge
        Window(colOff: -20, rowOff: -5, width: 64, height: 96),  // over the top-left edge
        Window(colOff: -50, rowOff: -50, width: 500, height: 500),  // larger than the raster
        Window(colOff: 600, rowOff: 0, width: 32, height: 32),  // wholly outside
    ]

    func compare(_ path: String, bands: [Int], windows: [Window] = windows) throws {
        for missing in MissingPixels.allCases { try compare(path, bands: bands, missing: missing, windows: windows) }
    }

    func compare(_ path: String, bands: [Int], missing: MissingPixels, windows: [Window] = windows) throws {
        let dataset = try RasterDataset(path: path, bands: bands, missing: missing)
        let reference = try rasterioReads(path, bands: bands, mode: missing == .keep ? "plain" : "dataset_mask", windows: windows)
        var offset = 0
        for window in windows {
            let n = bands.count * window.area
            var mine = [Float](repeating: .nan, count: n)
            try mine.withUnsafeMutableBufferPointer { _ = try dataset.read(window, into: $0) }
            let expected = reference[offset..<(offset + n)]
            let worst = zip(mine, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-6, "\(window) of \(path), nodata=\(missing), differs from rasterio by \(worst)")
            offset += n
            try compareStored(dataset, window, floats: mine)
        }
    }

    /// Where the bands can be read as stored (Byte, UInt16): those samples, scaled as the
    /// device scales them, are the floats exactly; the emptiness and the missing marks agree.
    func compareStored(_ dataset: RasterDataset, _ window: Window, floats: [Float]) throws {
        guard let type = dataset.info.storedType else { return }
        let n = floats.count
        var stored = [UInt8](repeating: 0xA5, count: n * type.byteCount), floatMarks = [UInt8](repeating: 0, count: window.area)
        var storedMarks = floatMarks, again = [Float](repeating: .nan, count: n)
        let fromFloats = try again.withUnsafeMutableBufferPointer { f in
            try floatMarks.withUnsafeMutableBufferPointer { try dataset.read(window, into: f, checkingEmptiness: true, missing: $0) }
        }
        let fromStored = try stored.withUnsafeMutableBytes { s in
            try storedMarks.withUnsafeMutableBufferPointer { try dataset.read(window, stored: s, checkingEmptiness: true, missing: $0) }
        }
        let scaled: [Float] = stored.withUnsafeBytes { raw in
            type == .byte ? raw.bindMemory(to: UInt8.self).map { Float($0) * type.scale }
                : raw.bindMemory(to: UInt16.self).map { Float($0) * type.scale }
        }
        #expect(scaled == floats && again == floats, "\(window): stored samples scaled differ from the floats")
        #expect(fromStored.bytes == fromFloats.bytes && fromStored.empty == fromFloats.empty && storedMarks == floatMarks, "\(window)")
    }

    func rasterioReads(_ path: String, bands: [Int], mode: String, windows: [Window]) throws -> [Float] {
        let out = try TestSupport.temporaryDirectory().appendingPathComponent("reference.f32")
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/RasterTests/reference/read_windows.py").path
        let specs = windows.map { "\($0.colOff),\($0.rowOff),\($0.width),\($0.height)" }
        let result = try TestSupport.run(
            TestSupport.systemPython,
            [script, path, bands.map(String.init).joined(separator: ","), mode, out.path] + specs)
        try #require(result.status == 0, "reference script failed: \(result.stderr)")
        let data = try Data(contentsOf: out)
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    @Test("a real NEON crop: Byte, nodata 255, every kind of window")
    func neonCrop() throws {
        try compare(try TestSupport.neonCrop, bands: [1, 2, 3])
    }

    @Test("nodata=keep keeps saturated channels; nodata=zero zeroes only pixels white in every band")
    func saturatedChannels() throws {
        // OSBS_029.tif declares nodata 255 on each band: 1590 red, 1577 green and 724 blue
        // samples hold 255, but only 461 pixels are 255 in all three.
        let whole = Window(colOff: 0, rowOff: 0, width: 400, height: 400)
        func read(_ missing: MissingPixels) throws -> [Float] {
            let dataset = try RasterDataset(path: try TestSupport.neonCrop, bands: [1, 2, 3], missing: missing)
            var values = [Float](repeating: .nan, count: 3 * whole.area)
            try values.withUnsafeMutableBufferPointer { _ = try dataset.read(whole, into: $0) }
            return values
        }
        let kept = try read(.keep), zeroed = try read(.zero)
        let saturated = (0..<3).map { b in kept[(b * whole.area)..<((b + 1) * whole.area)].filter { $0 == 1 }.count }
        #expect(saturated == [1590, 1577, 724])
        let holes = (0..<whole.area).filter { p in (0..<3).allSatisfy { zeroed[$0 * whole.area + p] == 0 } }
        let white = (0..<whole.area).filter { p in (0..<3).allSatisfy { kept[$0 * whole.area + p] == 1 } }
        #expect(holes == white && white.count == 461)
        let changed = zip(kept, zeroed).filter { $0 != $1 }.count
        #expect(changed == 3 * 461, "nodata=zero changed \(changed) samples")
    }

    @Test("missing-pixel marks: the pixels white in every band and those past the raster's edge, whatever nodata= reads",
          arguments: MissingPixels.allCases)
    func missingMarks(missing: MissingPixels) throws {
        let dataset = try RasterDataset(path: try TestSupport.neonCrop, bands: [1, 2, 3], missing: missing)
        let whole = Window(colOff: 0, rowOff: 0, width: 400, height: 400)
        var kept = [Float](repeating: .nan, count: 3 * whole.area)
        let stored = try RasterDataset(path: try TestSupport.neonCrop, bands: [1, 2, 3], missing: .keep)
        try kept.withUnsafeMutableBufferPointer { _ = try stored.read(whole, into: $0) }
        let white = Set((0..<whole.area).filter { p in (0..<3).allSatisfy { kept[$0 * whole.area + p] == 1 } })
        // A window reaching 100 px past the right and bottom edges.
        let window = Window(colOff: 200, rowOff: 200, width: 300, height: 300)
        var values = [Float](repeating: .nan, count: 3 * window.area), marks = [UInt8](repeating: 0, count: window.area)
        try values.withUnsafeMutableBufferPointer { v in
            try marks.withUnsafeMutableBufferPointer { _ = try dataset.read(window, into: v, checkingEmptiness: false, missing: $0) }
        }
        for y in 0..<300 {
            for x in 0..<300 {
                let (col, row) = (200 + x, 200 + y)
                let expected: UInt8 = col >= 400 || row >= 400 || white.contains(row * 400 + col) ? 1 : 0
                if marks[y * 300 + x] != expected { Issue.record("pixel (\(col), \(row)): marked \(marks[y * 300 + x])"); return }
            }
        }
        #expect(marks.contains(0) && white.contains { $0 / 400 >= 200 && $0 % 400 >= 200 }, "something of each kind to check")
    }

    @Test("bands are read in the order given")
    func bandOrder() throws {
        try compare(try TestSupport.neonCrop, bands: [3, 1])
    }

    @Test("UInt16 and Float32 rasters with nodata", arguments: [
        ["-ot", "UInt16", "-scale", "0", "255", "0", "65535", "-a_nodata", "0"],
        ["-ot", "Float32", "-scale", "0", "255", "0", "1", "-a_nodata", "0"],
        ["-ot", "Float32", "-scale", "0", "255", "0", "1"],
    ])
    func otherTypes(translate: [String]) throws {
        let directory = try TestSupport.temporaryDirectory()
        let source = try TestSupport.makeTestImage(in: directory, size: 400, tileSize: 128)
        let converted = directory.appendingPathComponent("converted.tif").path
        let result = try TestSupport.run("/usr/bin/gdal_translate", ["-q"] + translate + [source, converted])
        try #require(result.status == 0, "gdal_translate failed: \(result.stderr)")
        try compare(converted, bands: [1, 2, 3])
    }

    @Test("an alpha band masks pixels of the colour bands read with it")
    func alphaBand() throws {
        let directory = try TestSupport.temporaryDirectory()
        let rgba = directory.appendingPathComponent("rgba.tif").path
        let result = try TestSupport.run(
            "/usr/bin/gdal_translate",
            ["-q", "-b", "1", "-b", "2", "-b", "3", "-b", "mask", "-co", "ALPHA=YES", "-a_nodata", "none",
             try TestSupport.neonCrop, rgba])
        try #require(result.status == 0, "gdal_translate failed: \(result.stderr)")
        let info = try RasterDataset(path: rgba, bands: [1, 2, 3]).info
        #expect(info.masks == Array(repeating: .maskBand(shared: true), count: 3))
        try compare(rgba, bands: [1, 2, 3])
    }

    @Test("NaN and ±Inf samples of a float raster read as 0, finite ones as stored")
    func nonFiniteSamples() throws {
        let path = try TestSupport.temporaryDirectory().appendingPathComponent("float.tif").path
        let script = """
            import numpy as np, rasterio, sys
            a = np.array([[[0.5, np.nan, np.inf, -np.inf, -2.5, 1e30]]], dtype=np.float32)
            with rasterio.open(sys.argv[1], "w", driver="GTiff", width=6, height=1, count=1, dtype="float32") as ds:
                ds.write(a)
            """
        let made = try TestSupport.run(TestSupport.systemPython, ["-c", script, path])
        try #require(made.status == 0, "\(made.stderr)")
        let dataset = try RasterDataset(path: path, bands: [1])
        var values = [Float](repeating: .nan, count: 6)
        try values.withUnsafeMutableBufferPointer { _ = try dataset.read(Window(colOff: 0, rowOff: 0, width: 6, height: 1), into: $0) }
        #expect(values == [0.5, 0, 0, 0, -2.5, 1e30])
    }

    @Test("a PNG without georeferencing reads, with the identity transform")
    func pngWithoutGeoreferencing() throws {
        let directory = try TestSupport.temporaryDirectory()
        let png = directory.appendingPathComponent("crop.png").path
        let result = try TestSupport.run("/usr/bin/gdal_translate", ["-q", "-of", "PNG", try TestSupport.neonCrop, png])
        try #require(result.status == 0, "gdal_translate failed: \(result.stderr)")
        try? FileManager.default.removeItem(atPath: png + ".aux.xml")  // keep GDAL's sidecar out
        let dataset = try RasterDataset(path: png, bands: [1, 2, 3])
        #expect(dataset.info.georeference == .none)
        #expect(dataset.info.georeference.isGeoreferenced == false)
        try compare(png, bands: [1, 2, 3])
    }

    @Test("bytes read count only the part of the window inside the raster")
    func bytesRead() throws {
        let dataset = try RasterDataset(path: try TestSupport.neonCrop, bands: [1, 2])
        var buffer = [Float](repeating: 0, count: 2 * 100 * 100)
        let bytes = try buffer.withUnsafeMutableBufferPointer {
            try dataset.read(Window(colOff: 350, rowOff: 0, width: 100, height: 100), into: $0)
        }
        #expect(bytes == 50 * 100 * 2)
    }
}
