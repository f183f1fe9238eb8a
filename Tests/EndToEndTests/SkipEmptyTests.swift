import Foundation
import Testing
import TestSupport

/// `skip_empty=true`: tiles with no data never reach the model, are counted, journaled
/// (a resume does not redo them) and leave no results; tiles with some data stay.
@Suite("mgpr skip_empty")
struct SkipEmptyTests {
    let mgpr = TestSupport.product("mgpr")

    /// A 1200 x 800 raster of 400 px tiles (3 x 2), nodata 0: tile 0 the NEON crop, tile
    /// 1 all nodata, tile 2 all white (one value, not nodata), tile 3 half NEON half
    /// nodata, tiles 4 and 5 all nodata. Tiles 0 and 3 hold data.
    func collarRaster(in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("collar.tif").path
        let script = """
            import sys, numpy as np, rasterio
            with rasterio.open(sys.argv[1]) as src:
                neon, profile = src.read((1, 2, 3)), src.profile
            a = np.zeros((3, 800, 1200), np.uint8)
            a[:, 0:400, 0:400] = neon
            a[:, 0:400, 800:1200] = 255
            a[:, 400:800, 0:200] = neon[:, :, :200]
            profile.update(width=1200, height=800, count=3, nodata=0, dtype="uint8")
            with rasterio.open(sys.argv[2], "w", **profile) as dst:
                dst.write(a)
            """
        let result = try TestSupport.run(TestSupport.systemPython, ["-c", script, try TestSupport.neonCrop, path])
        try #require(result.status == 0, "\(result.stderr)")
        return path
    }

    func run(_ image: String, _ extra: [String], in directory: URL, run: String) throws -> (TestSupport.ProcessResult, URL) {
        let runDirectory = directory.appendingPathComponent(run)
        let result = try TestSupport.run(
            mgpr, ["model=resnet50", "image_path=\(image)", "tile_size=400", "batch_size=4", "precision=32",
                   "output=\(directory.path)/\(run).csv", "run_dir=\(runDirectory.path)"] + extra, in: directory)
        return (result, runDirectory)
    }

    @Test("empty tiles are counted, journaled and left out; tiles with some data are kept")
    func skipsEmptyTiles() throws {
        let directory = try TestSupport.temporaryDirectory()
        let image = try collarRaster(in: directory)
        let (result, runDirectory) = try run(image, ["skip_empty=true"], in: directory, run: "skip")
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Skipped: 4 tiles held no data (skip_empty=true)"), "\(result.stdout)")
        let rows = CSVRows.parse(try String(contentsOfFile: directory.path + "/skip.csv", encoding: .utf8)).dropFirst()
        #expect(rows.map { Int($0[0])! }.sorted() == [0, 3])
        let summary = try JSONSerialization.jsonObject(
            with: Data(contentsOf: runDirectory.appendingPathComponent("summary.json"))) as! [String: Any]
        #expect(summary["tiles"] as? Int == 2 && summary["skipped_tiles"] as? Int == 4, "\(summary)")
        let journal = try String(contentsOf: runDirectory.appendingPathComponent("rank-0/journal.txt"), encoding: .utf8)
        // Done tiles with their rows (one, and its digest), the others as skipped.
        let lines = journal.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(Set(lines.filter { $0.count == 3 && $0[1] == "1" }.map { $0[0] }) == ["0", "3"], "\(journal)")
        #expect(Set(lines.filter { $0.count == 2 && $0[1] == "skipped" }.map { $0[0] }) == ["1", "2", "4", "5"], "\(journal)")

        // Off (the default, as the seed): every tile reaches the model.
        let (all, _) = try run(image, [], in: directory, run: "all")
        try #require(all.status == 0, "\(all.stderr)")
        #expect(CSVRows.parse(try String(contentsOfFile: directory.path + "/all.csv", encoding: .utf8)).count == 7)
        #expect(!all.stdout.contains("Skipped:"))
    }

    @Test("a resumed run does not read skipped tiles again")
    func resumeKeepsSkips() throws {
        let directory = try TestSupport.temporaryDirectory()
        let image = try collarRaster(in: directory)
        let (first, runDirectory) = try run(image, ["skip_empty=true"], in: directory, run: "again")
        try #require(first.status == 0, "\(first.stderr)")
        let resumed = try TestSupport.run(
            mgpr, ["model=resnet50", "image_path=\(image)", "tile_size=400", "batch_size=4", "precision=32", "skip_empty=true",
                   "output=\(directory.path)/again.csv", "run_dir=\(runDirectory.path)", "resume=true"], in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("Resuming: 6 of this rank's 6 tiles already done"), "\(resumed.stderr)")
    }
}
