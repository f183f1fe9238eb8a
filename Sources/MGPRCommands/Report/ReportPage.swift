import Cluster
import Foundation
import Pipeline
import Raster
import Results
import Tiling

/// `report.html`: one self-contained page (inline CSS, SVG and PNG; nothing fetched)
/// that shows a run: what went wrong first, then the totals, what ran where, the
/// settings, throughput, where the time went, memory, and a map of the tiles.
enum ReportPage {
    static func html(_ r: RunReport) -> String {
        var body = "<h1>mgpr run report</h1><p class=\"sub\">\(e(r.root))</p>"
        body += problems(r) + totals(r) + environment(r) + charts(r) + map(r) + settings(r)
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"/><title>mgpr run report</title><style>\(style)</style></head>
            <body>\(body)</body></html>

            """
    }

    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#222;padding:0 16px}
        h1{margin:0}h2{margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}.sub{color:#666;margin-top:2px}
        table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
        .alert{background:#fdecea;border:1px solid #c0392b;color:#8e1b10;padding:8px 12px;border-radius:4px;margin:12px 0}
        .ok{background:#eaf6ec;border:1px solid #2a9d3a;color:#1d6b28;padding:8px 12px;border-radius:4px;margin:12px 0}
        .chart{width:100%;max-width:720px;height:auto}.grid{stroke:#eee}.tick{font-size:10px;fill:#555}
        .axis{font-size:11px;fill:#333}.legend{font-size:11px;fill:#333}.note{font-size:10px;fill:#777;text-anchor:end}
        .map{position:relative;display:inline-block;max-width:100%}.map img{display:block;max-width:100%}
        .map img.tiles{position:absolute;left:0;top:0;width:100%;height:100%;image-rendering:pixelated;opacity:.55}
        .key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
        """

    private static func e(_ text: String) -> String { SVGChart.escape(text) }

    private static func problems(_ r: RunReport) -> String {
        var lines: [String] = []
        let lost = r.lostRanks
        if !lost.isEmpty {
            func state(_ rank: Int) -> String {
                switch r.statuses.first(where: { $0.rank == rank })?.state {
                case nil: "no status"
                case .running: "running, or killed"
                case let state?: state.rawValue
                }
            }
            lines.append("Rank\(lost.count == 1 ? "" : "s") \(lost.map(String.init).joined(separator: ", ")) did not finish "
                + "(\(lost.map(state).joined(separator: ", ")))")
        }
        let missing = r.missing
        if !missing.isEmpty {
            lines.append("\(missing.count) of \(r.tileCount) tiles not done (first: \(missing.prefix(10).map(String.init).joined(separator: ", "))); "
                + "rerun with resume=true to do just those")
        }
        if lines.isEmpty { return "<div class=\"ok\">Complete: every rank finished, all \(r.tileCount) tiles done.</div>" }
        return lines.map { "<div class=\"alert\">\(e($0))</div>" }.joined()
    }

    private static func totals(_ r: RunReport) -> String {
        guard let s = RunSummary.combined(r.statuses.sorted { $0.rank < $1.rank }.compactMap(\.summary)) else { return "" }
        let rows: [(String, String)] = [
            ("Tiles", "\(s.tiles) predicted" + (r.skipped.isEmpty ? "" : ", \(r.skipped.count) skipped (no data)")),
            ("Batches", "\(s.batches)"),
            ("Elapsed", String(format: "%.1f s", s.elapsedSeconds)),
            ("Throughput", String(format: "%.2f tiles/s", s.tilesPerSecond)),
            ("Devices", String(format: "worked %.1f s, waited %.1f s for data (%.1f%%)", s.busySeconds, s.waitSeconds,
                               s.busySeconds + s.waitSeconds > 0 ? s.waitSeconds / (s.busySeconds + s.waitSeconds) * 100 : 0)),
            ("Read", String(format: "%.1f MB (%.1f MB/s)", Double(s.bytesRead) / 1e6, s.megabytesPerSecond)),
            ("Peak memory", String(format: "%.2f GB (process peak RSS)", Double(s.peakRSSBytes) / 1e9)),
        ]
        var html = "<h2>Totals</h2>" + table(rows)
        html += "<table><tr><th>Device</th><th>Tiles</th><th>Batches</th><th>Busy per batch</th><th>Utilization</th><th>Peak memory</th></tr>"
        for d in s.devices {
            html += String(format: "<tr><td>%@</td><td>%d</td><td>%d</td><td>%.3f s</td><td>%.1f%%</td><td>%.2f GB</td></tr>",
                           e(d.name), d.tiles, d.batches, d.averageBusySecondsPerBatch, d.utilization * 100, Double(d.peakMemoryBytes) / 1e9)
        }
        return html + "</table>"
    }

    private static func environment(_ r: RunReport) -> String {
        var html = "<h2>What ran where</h2><table><tr><th>Rank</th><th>Host</th><th>State</th><th>What ran</th></tr>"
        for s in r.statuses.sorted(by: { $0.rank < $1.rank }) {
            let env = s.environment ?? [:]
            let what = ["model", "devices", "machine", "gdal", "mgpr"].compactMap { key in env[key].map { "\(key): \($0)" } }
            html += "<tr><td>\(s.rank)</td><td>\(e(s.host))</td><td>\(s.state.rawValue)</td><td>\(what.map(e).joined(separator: "<br/>"))</td></tr>"
        }
        return html + "</table>"
    }

    private static func settings(_ r: RunReport) -> String {
        "<h2>Settings (config.yaml)</h2>" + table(r.settings.map { ($0.key, $0.value) })
    }

    private static func table(_ rows: [(String, String)]) -> String {
        "<table>" + rows.map { "<tr><th>\(e($0.0))</th><td>\(e($0.1))</td></tr>" }.joined() + "</table>"
    }

    // MARK: - Charts

    private static func charts(_ r: RunReport) -> String {
        guard !r.batches.isEmpty else { return "<h2>Charts</h2><p>No batches were recorded.</p>" }
        let chart = SVGChart()
        let end = max(r.batches.map(\.finishedAt).max() ?? 1, 1e-3)
        let keys = Array(Set(r.batches.map { "\($0.rank):\($0.device)" })).sorted()
        // About two batches per bin and device, at most 40 bins: a rate, not a comb.
        let bins = max(2, min(40, r.batches.count / max(keys.count, 1) / 2)), width = end / Double(bins)
        let multiRank = Set(r.batches.map(\.rank)).count > 1
        func name(_ key: String) -> String {
            let parts = key.split(separator: ":")
            return multiRank ? "rank \(parts[0]) device \(parts[1])" : "device \(parts[1])"
        }
        let throughput = keys.map { key -> SVGChart.Series in
            var counts = [Double](repeating: 0, count: bins)
            for b in r.batches where "\(b.rank):\(b.device)" == key {
                counts[min(bins - 1, Int(b.finishedAt / width))] += Double(b.tiles)
            }
            return SVGChart.Series(name: name(key), points: counts.enumerated().map { (Double($0.offset + 1) * width, $0.element / width) })
        }
        let total = Double(r.batches.reduce(0) { $0 + $1.tiles }) / end
        var html = "<h2>Throughput over time</h2>"
        html += chart.lines(throughput, xLabel: "seconds since start", yLabel: "tiles/s",
                            mark: (String(format: "mean %.2f tiles/s (all devices)", total), total))

        // Where time went, per batch in the order they finished; many batches are averaged in groups.
        let ordered = r.batches.sorted { $0.finishedAt < $1.finishedAt }
        let group = max(1, (ordered.count + 119) / 120)
        let bars = stride(from: 0, to: ordered.count, by: group).map { start -> [Double] in
            let slice = ordered[start..<min(start + group, ordered.count)], n = Double(slice.count)
            func mean(_ value: (RunReport.Batch) -> Double) -> Double { slice.map(value).reduce(0, +) / n }
            return [mean(\.read), mean(\.wait), mean(\.network), mean { max($0.busy - $0.network, 0) }, mean(\.write)]
        }
        html += "<h2>Where the time went, per batch</h2>"
        html += "<p>Reading and converting (reader threads) overlaps the device's time; the device waits for data, "
            + "runs the transform and the network, post-processes (proposals, decoding, NMS), and writes the results.</p>"
        html += chart.stacked(bars, parts: ["read + convert (readers)", "waiting for data", "transform + network",
                                            "post-processing", "writing results"],
                              xLabel: group == 1 ? "batch, in the order they finished" : "batches, in groups of \(group)",
                              yLabel: "seconds")

        var memory = Set(r.batches.map(\.rank)).sorted().map { rank in
            SVGChart.Series(name: multiRank ? "rank \(rank) process" : "process",
                            points: ordered.filter { $0.rank == rank }.map { ($0.finishedAt, Double($0.peakRSS) / 1e9) })
        }
        memory += keys.map { key in
            SVGChart.Series(name: name(key) + " model + batch",
                            points: ordered.filter { "\($0.rank):\($0.device)" == key }.map { ($0.finishedAt, Double($0.deviceBytes) / 1e9) })
        }
        let peak = Double(r.batches.map(\.peakRSS).max() ?? 0) / 1e9
        html += "<h2>Memory over time</h2>"
        html += chart.lines(memory, xLabel: "seconds since start", yLabel: "GB", mark: (String(format: "peak %.2f GB", peak), peak))
        return html
    }

    // MARK: - Map

    private static func map(_ r: RunReport) -> String {
        guard let raster = r.raster else { return "<h2>Tiles</h2><p>Dummy tiles: no raster to map.</p>" + tileCounts(r) }
        var html = "<h2>Tiles on the raster</h2>"
        let grid = TileGrid(rasterWidth: raster.width, rasterHeight: raster.height, tileSize: raster.tileSize, overlap: raster.overlap)
        let thumbnail: String
        do {
            let dataset = try RasterDataset(path: raster.imagePath, bands: [1, 2, 3])
            let image = try dataset.thumbnail(maxSide: 900)
            let jpeg = try PNGImage.encode(bands: image.bands, width: image.width, height: image.height, format: .jpeg)
            thumbnail = "<img alt=\"the raster\" src=\"data:image/jpeg;base64,\(jpeg.base64EncodedString())\"/>"
        } catch {
            let fallback = (try? RasterDataset(path: raster.imagePath, bands: [1]).thumbnail(maxSide: 900))
            if let image = fallback,
               let jpeg = try? PNGImage.encode(bands: image.bands, width: image.width, height: image.height, format: .jpeg) {
                thumbnail = "<img alt=\"the raster\" src=\"data:image/jpeg;base64,\(jpeg.base64EncodedString())\"/>"
            } else {
                thumbnail = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"%.0f\"><rect width=\"100%%\" height=\"100%%\" fill=\"#f4f4f4\"/></svg>",
                                   720 * Double(raster.height) / Double(max(raster.width, 1)))
                html += "<p>The raster (\(e(raster.imagePath))) could not be read for a picture: \(e("\(error)"))</p>"
            }
        }
        // One pixel per tile, stretched over the picture: a 100k-tile grid stays one small image.
        let maxDetections = max(r.detectionsPerTile.values.max() ?? 0, 1)
        var channels = [[UInt8]](repeating: [UInt8](repeating: 0, count: grid.count), count: 4)
        for tile in 0..<grid.count {
            let color: (UInt8, UInt8, UInt8, UInt8)
            if r.skipped.contains(tile) {
                color = (150, 150, 150, 200)
            } else if !r.done.contains(tile) {
                color = (220, 30, 30, 230)
            } else if let count = r.detectionsPerTile[tile] {
                let t = Double(count) / Double(maxDetections)
                color = (UInt8(255 - 200 * t), UInt8(240 - 110 * t), UInt8(120 - 90 * t), 210)
            } else if let top = r.classPerTile[tile] {
                let hex = SVGChart.palette[top % SVGChart.palette.count].dropFirst()
                let v = Int(hex, radix: 16) ?? 0
                color = (UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255), 210)
            } else {
                color = (60, 160, 60, 160)
            }
            (channels[0][tile], channels[1][tile], channels[2][tile], channels[3][tile]) = color
        }
        let tiles = (try? PNGImage.encode(bands: channels, width: grid.columns, height: grid.rows)).map {
            "<img class=\"tiles\" alt=\"tile states\" src=\"data:image/png;base64,\($0.base64EncodedString())\"/>"
        } ?? ""
        html += "<div class=\"map\">\(thumbnail)\(tiles)\(outlines(grid))</div>"
        var key = "<p class=\"key\">\(grid.columns) x \(grid.rows) tiles of \(raster.tileSize) px"
        key += r.detectionsPerTile.isEmpty
            ? (r.classPerTile.isEmpty ? "<span style=\"background:#3ca03c\"></span>done" : ": colour is the tile's top class")
            : "<span style=\"background:#fff078\"></span>no detections<span style=\"background:#37821e\"></span>\(maxDetections) detections"
        key += "<span style=\"background:#969696\"></span>skipped (no data)<span style=\"background:#dc1e1e\"></span>not done</p>"
        return html + key + tileCounts(r)
    }

    /// The tiles' edges over the picture, for grids small enough to draw (a large grid
    /// would be a million lines; its one-pixel-per-tile image shows it instead).
    private static func outlines(_ grid: TileGrid) -> String {
        guard grid.count <= 2500 else { return "" }
        let w = Double(grid.rasterWidth), h = Double(grid.rasterHeight)
        var svg = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" preserveAspectRatio=\"none\" "
                         + "style=\"position:absolute;left:0;top:0;width:100%%;height:100%%\">", w, h)
        for i in 0..<grid.count {
            let t = grid.window(at: i)
            svg += String(format: "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#fff\" "
                          + "stroke-opacity=\"0.7\" stroke-width=\"%.1f\"/>", t.colOff, t.rowOff, t.width, t.height, max(w, h) / 600)
        }
        return svg + "</svg>"
    }

    private static func tileCounts(_ r: RunReport) -> String {
        var rows = [("Done", "\(r.done.count - r.skipped.count)"), ("Skipped", "\(r.skipped.count)"), ("Not done", "\(r.missing.count)")]
        if !r.detectionsPerTile.isEmpty {
            let total = r.detectionsPerTile.values.reduce(0, +)
            rows.append(("Detections", "\(total) before the cross-tile merge, at most \(r.detectionsPerTile.values.max() ?? 0) in one tile"))
        }
        if !r.classPerTile.isEmpty {
            let counts = Dictionary(grouping: r.classPerTile.values, by: { $0 }).mapValues(\.count).sorted { $0.value > $1.value }
            rows.append(("Top classes", counts.prefix(8).map { "class \($0.key): \($0.value) tiles" }.joined(separator: ", ")))
        }
        return table(rows)
    }
}
