import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Raster
import Testing
import TestSupport
import Tiling

/// `report.html`: written by every run and by `mgpr report`, one self-contained page
/// that parses as XML, holds the run's numbers, and renders in a real browser.
@Suite("Run report", .serialized)
struct ReportTests {
    let mgpr = TestSupport.product("mgpr")

    /// A run over the NEON crop in 128 px tiles (16) in batches of 2, its run directory.
    func run(in directory: URL, _ extra: [String] = []) throws -> URL {
        let runDirectory = directory.appendingPathComponent("run")
        let result = try TestSupport.run(
            mgpr, ["model=resnet50", "image_path=\(try TestSupport.neonCrop)", "tile_size=128", "batch_size=2", "precision=32",
                   "run_dir=\(runDirectory.path)"] + extra, in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("Report: \(runDirectory.path)/report.html"))
        return runDirectory
    }

    /// The page's elements by name, counted, read by an XML parser (nothing unclosed or unescaped).
    func elements(_ path: URL) throws -> [String: Int] {
        Dictionary(grouping: try page(path), by: \.name).mapValues(\.count)
    }

    /// Every element of the page in order, with its attributes and the element it is in.
    func page(_ path: URL) throws -> [(name: String, attributes: [String: String], parent: Int?)] {
        final class Reader: NSObject, XMLParserDelegate {
            var elements: [(name: String, attributes: [String: String], parent: Int?)] = []
            var open: [Int] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                elements.append((name, attributes, open.last))
                open.append(elements.count - 1)
            }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                open.removeLast()
            }
        }
        let parser = XMLParser(data: try Data(contentsOf: path))
        let reader = Reader()
        parser.delegate = reader
        #expect(parser.parse(), "report.html is not well-formed: \(parser.parserError.map { "\($0)" } ?? "")")
        return reader.elements
    }

    /// The colours of the map's legend swatches, in order.
    func legendColors(_ html: String) throws -> [String] {
        let swatch = try Regex("class=\"swatch\" style=\"background:(#[0-9a-f]{6})\"")
        return html.matches(of: swatch).map { String($0.output[1].substring ?? "") }
    }

    /// The metrics rows of a run directory's rank 0, in the order the batches finished.
    func metrics(_ runDirectory: URL) throws -> [[String: Double]] {
        let lines = try String(contentsOf: runDirectory.appendingPathComponent("rank-0/metrics.csv"), encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        return lines.dropFirst().map { line in
            Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: ",").map { Double($0) ?? .nan }))
        }.sorted { $0["finished_at_s"]! < $1["finished_at_s"]! }
    }

    @Test("every run writes report.html: totals, what ran, charts as SVG, the raster with its tile grid, the settings")
    func content() throws {
        let directory = try TestSupport.temporaryDirectory()
        let report = try run(in: directory).appendingPathComponent("report.html")
        let html = try String(contentsOf: report, encoding: .utf8)
        let counts = try elements(report)
        // Three charts (throughput: one line; memory: process and device) and the map's cells over its picture.
        #expect(counts["svg"] == 4 && counts["polyline"] == 3 && counts["img"] == 1, "\(counts)")
        for text in ["Complete: every rank finished, all 16 tiles done.", "16 predicted", "4 x 4 tiles of 128 px",
                     "model=resnet50", "data:image/jpeg;base64,", "tile_size</th><td>128", "16 tiles written to \(directory.path)/run/classes.csv",
                     "Throughput over time", "Where the time went, per batch", "Memory over time", "transform + network"] {
            #expect(html.contains(text), "report.html lacks \(text)")
        }
        // A classifier's page says nothing of a detector's steps, nor of copies a CPU does not make.
        for text in ["NMS", "proposals", "copies to and from", "Too few batches"] { #expect(!html.contains(text), "report.html says \(text)") }
        // Every tile is drawn as its cell, coloured by its top class, and the legend names each colour the map uses.
        let titles = try Regex("<title>tile [0-9]+: class [0-9]+</title>")
        #expect(html.matches(of: titles).count == 16)
        let legend = try legendColors(html)
        #expect(!legend.isEmpty && legend.allSatisfy { html.contains("fill=\"\($0)\" stroke=\"\($0)\"") }, "\(legend)")
        #expect(!html.contains("src=\"http") && !html.contains("<script") && !html.contains("<link"), "the page must fetch nothing")
        let size = try FileManager.default.attributesOfItem(atPath: report.path)[.size] as! Int
        #expect(size < 400_000, "report.html is \(size) bytes")
    }

    @Test("the time chart stacks only the device's time: each bar is its batch's wait, busy and write time, the readers said apart")
    func timeChart() throws {
        let directory = try TestSupport.temporaryDirectory()
        let runDirectory = try run(in: directory)
        let report = runDirectory.appendingPathComponent("report.html")
        let elements = try page(report)
        var bars: [Int: Double] = [:]
        for element in elements where element.name == "rect" {
            guard let value = element.attributes["data-value"].flatMap(Double.init), let parent = element.parent,
                  let first = elements[parent].attributes["data-first"].flatMap(Int.init) else { continue }
            #expect(elements[parent].attributes["data-last"] == "\(first)", "8 batches: one bar each")
            bars[first, default: 0] += value
        }
        let rows = try metrics(runDirectory)
        try #require(rows.count == 8 && bars.count == 8, "\(bars)")
        for (i, row) in rows.enumerated() {
            let device = row["wait_s"]! + row["busy_s"]! + row["write_s"]!
            #expect(abs(bars[i + 1]! - device) < 1e-5, "batch \(i + 1): bar \(bars[i + 1]!) s, device time \(device) s")
        }
        let html = try String(contentsOf: report, encoding: .utf8)
        let read = rows.reduce(0) { $0 + $1["read_s"]! }
        #expect(html.contains(String(format: "took %.2f s per batch to read and convert its tiles (%.1f s in all)", read / 8, read)))
    }

    @Test("with a single batch the page says so in sentences, not charts of one point")
    func singleBatch() throws {
        let directory = try TestSupport.temporaryDirectory()
        let html = try String(contentsOf: run(in: directory, ["batch_size=16"]).appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("1 batch finished at ") && html.contains("16 tiles in "))
        #expect(html.contains("Highest after a batch: process "))
        #expect(html.components(separatedBy: "Too few batches to chart over time.").count == 3)
        #expect(!html.contains("<polyline"), "no chart of lines from one point")
        #expect(html.contains("data-first=\"1\" data-last=\"1\""), "the one batch's bar is drawn")
    }

    @Test("a detector's page: counts in the cells on a colour scale, boxes found and boxes written after the cross-tile merge")
    func detectorPage() throws {
        let directory = try TestSupport.temporaryDirectory()
        let runDirectory = directory.appendingPathComponent("run")
        let weights = TestSupport.packageRoot.appendingPathComponent(".fixtures/fasterrcnn/fasterrcnn.pth").path
        let result = try TestSupport.run(
            mgpr, ["image_path=\(try TestSupport.neonCrop)", "tile_size=240", "overlap=40", "weights=\(weights)", "precision=32",
                   "run_dir=\(runDirectory.path)"], in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        let written = try #require(result.stderr.firstMatch(of: try Regex("Results: ([0-9]+) detections written"))?.output[1].substring)
        let html = try String(contentsOf: runDirectory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("; \(written) written to \(runDirectory.path)/detections.gpkg after the cross-tile merge"), "\(written)")
        #expect(html.contains("post-processing (proposals, boxes, NMS)"))
        // Each cell's number is its tile's detections, as the results part holds them.
        let part = try String(contentsOf: runDirectory.appendingPathComponent("rank-0/results.csv"), encoding: .utf8)
        var perTile = [Int](repeating: 0, count: 4)
        for line in part.split(separator: "\n").dropFirst() { perTile[Int(line.split(separator: ",")[0])!] += 1 }
        try #require(perTile.reduce(0, +) > 0, "the seeded detector finds boxes")
        let counts = html.matches(of: try Regex("class=\"count\">([0-9]+)</text>")).map { Int($0.output[1].substring!)! }
        #expect(counts == perTile, "cells say \(counts), the part \(perTile)")
        #expect(html.contains("2 x 2 tiles of 240 px, overlapping by at least 40 px; each cell is the part of the raster nearest its tile's centre."))
        #expect(html.contains("detections in the tile: 0<span class=\"scale\"") && html.contains("</span>\(perTile.max()!)</p>"))
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

    @Test("headless Chromium renders it: the map shows every colour its legend names", .enabled(if: chromium != nil, "needs chromium (Debian's)"))
    func rendersInABrowser() throws {
        let directory = try TestSupport.temporaryDirectory()
        let runDirectory = try run(in: directory)
        // Tiles in every state: three never journaled (not done), two journaled as skipped.
        let journal = runDirectory.appendingPathComponent("rank-0/journal.txt")
        var lines = try String(contentsOf: journal, encoding: .utf8).split(separator: "\n").dropLast(3).map(String.init)
        for i in [0, 1] { lines[i] = "\(lines[i].split(separator: " ")[0]) skipped" }
        try (lines.joined(separator: "\n") + "\n").write(to: journal, atomically: true, encoding: .utf8)
        let result = try TestSupport.run(mgpr, ["report", "run_dir=\(runDirectory.path)"])
        try #require(result.status == 0, "\(result.stderr)")
        let report = runDirectory.appendingPathComponent("report.html")
        let html = try String(contentsOf: report, encoding: .utf8)
        let legend = try legendColors(html)
        #expect(legend.contains("#e41a1c") && legend.contains("#969696"), "not done and skipped in the legend: \(legend)")

        let png = directory.appendingPathComponent("report.png")
        let shot = try TestSupport.run(
            Self.chromium!, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,3600",
                             "--screenshot=\(png.path)", "file://\(report.path)"], in: directory)
        try #require(shot.status == 0 && FileManager.default.fileExists(atPath: png.path), "\(shot.stderr)")
        let (pixels, width, height) = try rgb(png.path)
        #expect(width == 1100 && height == 3600)
        // Each colour of the legend is on the map: far more pixels of it than its 12 px
        // swatch holds (the cells' outlines are drawn in the full colour). Grey (skipped)
        // and near-white (other classes) are left out: the page's text is drawn in greys.
        for hex in legend where hex != "#969696" && hex != "#f7f7f7" {
            let v = Int(hex.dropFirst(), radix: 16)!, target = [v >> 16 & 255, v >> 8 & 255, v & 255]
            let count = (0..<(width * height)).count { p in (0..<3).allSatisfy { abs(Int(pixels[$0][p]) - target[$0]) <= 6 } }
            #expect(count > 600, "\(hex): \(count) pixels in the screenshot")
        }
    }

    /// A PNG's red, green and blue values, read through GDAL (as [0, 1] floats).
    func rgb(_ path: String) throws -> (bands: [[UInt8]], width: Int, height: Int) {
        let dataset = try RasterDataset(path: path, bands: [1, 2, 3])
        let (width, height) = (dataset.info.width, dataset.info.height)
        var values = [Float](repeating: 0, count: 3 * width * height)
        _ = try values.withUnsafeMutableBufferPointer { try dataset.read(Window(colOff: 0, rowOff: 0, width: width, height: height), into: $0) }
        return ((0..<3).map { b in values[(b * width * height)..<((b + 1) * width * height)].map { UInt8(($0 * 255).rounded()) } }, width, height)
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
