import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TestSupport

/// `report.html`: written by every run and by `mgpr report`, one self-contained page
/// that parses as XML, holds the run's numbers, and renders in a real browser.
@Suite("Run report", .serialized)
struct ReportTests {
    let mgpr = TestSupport.product("mgpr")

    /// A run over the NEON crop in 128 px tiles (16), its run directory.
    func run(in directory: URL, _ extra: [String] = []) throws -> URL {
        let runDirectory = directory.appendingPathComponent("run")
        let result = try TestSupport.run(
            mgpr, ["model=resnet50", "image_path=\(try TestSupport.neonCrop)", "tile_size=128", "batch_size=4", "precision=32",
                   "run_dir=\(runDirectory.path)"] + extra, in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("Report: \(runDirectory.path)/report.html"))
        return runDirectory
    }

    /// The page's elements by name, counted, read by an XML parser (nothing unclosed or unescaped).
    func elements(_ path: URL) throws -> [String: Int] {
        final class Counter: NSObject, XMLParserDelegate {
            var counts: [String: Int] = [:]
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) { counts[name, default: 0] += 1 }
        }
        let parser = XMLParser(data: try Data(contentsOf: path))
        let counter = Counter()
        parser.delegate = counter
        #expect(parser.parse(), "report.html is not well-formed: \(parser.parserError.map { "\($0)" } ?? "")")
        return counter.counts
    }

    @Test("every run writes report.html: totals, what ran, charts as SVG, the raster with its tile grid, the settings")
    func content() throws {
        let directory = try TestSupport.temporaryDirectory()
        let report = try run(in: directory).appendingPathComponent("report.html")
        let html = try String(contentsOf: report, encoding: .utf8)
        let counts = try elements(report)
        #expect((counts["svg"] ?? 0) >= 4 && (counts["polyline"] ?? 0) >= 2 && (counts["img"] ?? 0) == 2, "\(counts)")
        for text in ["Complete: every rank finished, all 16 tiles done.", "16 predicted", "4 x 4 tiles of 128 px",
                     "model=resnet50", "data:image/jpeg;base64,", "data:image/png;base64,", "tile_size</th><td>128",
                     "Throughput over time", "Where the time went, per batch", "Memory over time"] {
            #expect(html.contains(text), "report.html lacks \(text)")
        }
        #expect(!html.contains("src=\"http") && !html.contains("<script") && !html.contains("<link"), "the page must fetch nothing")
        let size = try FileManager.default.attributesOfItem(atPath: report.path)[.size] as! Int
        #expect(size < 400_000, "report.html is \(size) bytes")
    }

    @Test("mgpr report rewrites it, with missing tiles in red at the top")
    func missingTiles() throws {
        let directory = try TestSupport.temporaryDirectory()
        let runDirectory = try run(in: directory)
        // Forget three tiles, as if the rank had died before journaling them.
        let journal = runDirectory.appendingPathComponent("rank-0/journal.txt")
        let lines = try String(contentsOf: journal, encoding: .utf8).split(separator: "\n").dropLast(3)
        try (lines.joined(separator: "\n") + "\n").write(to: journal, atomically: true, encoding: .utf8)
        let result = try TestSupport.run(mgpr, ["report", "run_dir=\(runDirectory.path)"])
        #expect(result.status == 0 && result.stdout.contains("report.html"), "\(result.stderr)")
        let html = try String(contentsOf: runDirectory.appendingPathComponent("report.html"), encoding: .utf8)
        let alert = try #require(html.range(of: "<div class=\"alert\">3 of 16 tiles not done"), "no alert")
        #expect(alert.lowerBound < html.range(of: "<h2>Totals")!.lowerBound, "the alert comes first")
    }

    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("headless Chromium renders it: a screenshot with the page's content", .enabled(if: chromium != nil, "needs chromium (Debian's)"))
    func rendersInABrowser() throws {
        let directory = try TestSupport.temporaryDirectory()
        let report = try run(in: directory).appendingPathComponent("report.html")
        let png = directory.appendingPathComponent("report.png")
        let shot = try TestSupport.run(
            Self.chromium!, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,2400",
                             "--screenshot=\(png.path)", "file://\(report.path)"], in: directory)
        try #require(shot.status == 0 && FileManager.default.fileExists(atPath: png.path), "\(shot.stderr)")
        // Not a blank page: the screenshot's pixels vary (GDAL's statistics of its first band).
        let info = try TestSupport.run("/usr/bin/gdalinfo", ["-json", "-stats", png.path])
        let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [String: Any]
        let band = (json["bands"] as! [[String: Any]])[0]
        let (size, std) = (json["size"] as! [Int], band["stdDev"] as? Double ?? 0)
        #expect(size == [1100, 2400] && std > 20, "screenshot \(size), standard deviation \(std)")
        try? FileManager.default.removeItem(atPath: png.path + ".aux.xml")
    }

    @Test("the report of a 100k-tile run is written in seconds and stays small")
    func largeRun() throws {
        let directory = try TestSupport.temporaryDirectory()
        let runDirectory = try run(in: directory)
        // Rewrite the run as one of 312 x 312 tiles over a 40000 px raster: a status
        // saying so, 97k journal lines (some skipped), 6000 metrics rows.
        let rank = runDirectory.appendingPathComponent("rank-0")
        let statusURL = rank.appendingPathComponent("status.json")
        var status = try JSONSerialization.jsonObject(with: Data(contentsOf: statusURL)) as! [String: Any]
        var raster = status["raster"] as! [String: Any]
        (raster["width"], raster["height"], raster["tile_size"]) = (40_000, 40_000, 128)
        let tiles = 313 * 313
        (status["raster"], status["tile_count"], status["share_end"]) = (raster, tiles, tiles)
        try JSONSerialization.data(withJSONObject: status).write(to: statusURL)
        let journal = (0..<(tiles - 500)).map { $0 % 7 == 0 ? "\($0) skipped" : "\($0)" }.joined(separator: "\n") + "\n"
        try journal.write(to: rank.appendingPathComponent("journal.txt"), atomically: true, encoding: .utf8)
        let header = "batch,device,tiles,wait_s,read_s,busy_s,bytes_read,finished_at_s,peak_rss_bytes,device_bytes,skipped,write_s,network_s"
        let rows = (0..<6000).map { "\($0),0,16,0.01,0.2,1.5,1000000,\(Double($0) * 1.6),\(2_000_000_000 + $0),1000000,2,0.01,1.2" }
        try ([header] + rows).joined(separator: "\n").appending("\n").write(
            to: rank.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)

        let start = Date()
        let result = try TestSupport.run(mgpr, ["report", "run_dir=\(runDirectory.path)"])
        let seconds = Date().timeIntervalSince(start)
        #expect(result.status == 0, "\(result.stderr)")
        let report = runDirectory.appendingPathComponent("report.html")
        let size = try FileManager.default.attributesOfItem(atPath: report.path)[.size] as! Int
        #expect(seconds < 20 && size < 1_000_000, "\(seconds) s, \(size) bytes")
        let html = try String(contentsOf: report, encoding: .utf8)
        #expect(html.contains("500 of \(tiles) tiles not done") && html.contains("313 x 313 tiles of 128 px"))
        _ = try elements(report)
    }
}
