import Cluster
import Foundation
import Platform
import Results

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
        .map img.tiles{position:absolute;left:0;top:0;width:100%;height:100%;image-rendering:pixelated}
        .map svg.cells{position:absolute;left:0;top:0;width:100%;height:100%}.cells rect{fill-opacity:.4}
        .cells text.count{fill:#fff;stroke:#000;paint-order:stroke;text-anchor:middle;font-weight:600}
        .key .swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle;border:1px solid #666}
        .key .scale{display:inline-block;width:160px;height:12px;margin:0 6px;vertical-align:middle;border:1px solid #666}
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
        let statuses = r.statuses.sorted(by: { $0.rank < $1.rank })
        let work = Dictionary(
            uniqueKeysWithValues: RunSummary.rankWork(statuses.compactMap { s in s.summary.map { (s.rank, s.host, $0) } }).map { ($0.rank, $0) })
        var html = "<h2>What ran where</h2>" + sharing(statuses)
        html += "<table><tr><th>Rank</th><th>Host</th><th>State</th><th>Tiles</th><th>Idle at the end</th><th>What ran</th></tr>"
        for s in statuses {
            let env = s.environment ?? [:]
            let what = ["model", "devices", "machine", "gdal", "mgpr"].compactMap { key in env[key].map { "\(key): \($0)" } }
            let tiles = work[s.rank].map { "\($0.tiles)" } ?? ""
            let idle = work[s.rank]?.idleAtEndSeconds.map { String(format: "%.2f s", $0) } ?? ""
            html += "<tr><td>\(s.rank)</td><td>\(e(s.host))</td><td>\(s.state.rawValue)</td><td>\(tiles)</td><td>\(idle)</td>"
                + "<td>\(what.map(e).joined(separator: "<br/>"))</td></tr>"
        }
        // A rank with no status never started, or was lost before its first tile.
        let world = statuses.first?.worldSize ?? 0
        for rank in (0..<world) where !statuses.contains(where: { $0.rank == rank }) {
            html += "<tr><td>\(rank)</td><td></td><td>no status (never started, or lost before its first tile)</td><td></td><td></td><td></td></tr>"
        }
        return html + "</table>"
    }

    /// How the ranks divided the tiles, and under share=claim what claiming cost.
    private static func sharing(_ statuses: [RankStatus]) -> String {
        guard let first = statuses.first, first.worldSize > 1 else { return "" }
        guard statuses.contains(where: { $0.shareMode == "claim" }) else {
            return "<p>The \(first.worldSize) ranks each took a fixed block of tiles (share=static).</p>"
        }
        let claims = statuses.compactMap(\.summary?.claims)
        let operations = claims.map(\.operations).reduce(0, +), chunks = claims.map(\.chunks).reduce(0, +)
        let taken = claims.map(\.takenOver).reduce(0, +)
        let tiles = statuses.compactMap(\.summary?.tiles).reduce(0, +)
        return "<p>The \(first.worldSize) ranks claimed chunks of tiles as they went (share=claim): \(counted(chunks, "chunk"))"
            + (taken > 0 ? ", \(taken) taken over from ranks whose lease expired" : "")
            + String(format: "; %d file-system operations on the claims folder, %.3f per tile.</p>",
                     operations, tiles > 0 ? Double(operations) / Double(tiles) : 0)
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
        return throughput(r) + timeSpent(r) + memory(r)
    }

    /// Devices by "rank:device", in order, and how a chart names one.
    private static func devices(_ r: RunReport) -> (keys: [String], name: (String) -> String) {
        let keys = Array(Set(r.batches.map(\.deviceKey))).sorted()
        let multiRank = Set(r.batches.map(\.rank)).count > 1
        return (keys, { key in
            let parts = key.split(separator: ":")
            return multiRank ? "rank \(parts[0]) device \(parts[1])" : "device \(parts[1])"
        })
    }

    /// A chart needs this many points per line to show a change over time; with fewer
    /// the page says what there is in a sentence.
    static let fewestPointsToChart = 3

    private static func throughput(_ r: RunReport) -> String {
        let (keys, name) = devices(r)
        let end = max(r.batches.map(\.finishedAt).max() ?? 1, 1e-3)
        let tiles = r.batches.reduce(0) { $0 + $1.tiles }
        let mean = Double(tiles) / end
        var html = "<h2>Throughput over time</h2>"
        // About two batches per bin and device, at most 40 bins: a rate, not a comb.
        let bins = min(40, r.batches.count / max(keys.count, 1) / 2)
        guard bins >= fewestPointsToChart else {
            let times = r.batches.map(\.finishedAt).sorted().map { String(format: "%.1f s", $0) }
            let when = times.count <= 4 ? " at " + listed(times) : ", the last at \(times.last ?? "")"
            return html + "<p>\(counted(r.batches.count, "batch", plural: "batches")) finished\(when): "
                + String(format: "%@ in %.1f s, %.2f tiles/s. Too few batches to chart over time.</p>", counted(tiles, "tile"), end, mean)
        }
        let width = end / Double(bins)
        let series = keys.map { key -> SVGChart.Series in
            var counts = [Double](repeating: 0, count: bins)
            for b in r.batches where b.deviceKey == key { counts[min(bins - 1, Int(b.finishedAt / width))] += Double(b.tiles) }
            // Each bin's rate at its middle.
            return SVGChart.Series(name: name(key), points: counts.enumerated().map { ((Double($0.offset) + 0.5) * width, $0.element / width) })
        }
        html += SVGChart(legend: SVGChart.parts(series)).lines(series, xLabel: "seconds since start", yLabel: "tiles/s",
                                 mark: (String(format: "mean %.2f tiles/s (all devices)", mean), mean))
        return html
    }

    /// Per batch, the device's own time: waiting for data, copies, network,
    /// post-processing, writing; stacked, as they follow one another. The readers work
    /// alongside, so their time is said apart.
    private static func timeSpent(_ r: RunReport) -> String {
        let ordered = r.batches.sorted { $0.finishedAt < $1.finishedAt }
        let postprocessing = r.isDetector ? "post-processing (proposals, boxes, NMS)" : "after the network"
        let all: [(part: SVGChart.Part, seconds: (RunReport.Batch) -> Double)] = [
            (SVGChart.Part(name: "waiting for data", color: "#b0b0b0"), \.wait),
            (SVGChart.Part(name: "copies to and from the device", color: "#7d3c98"), \.copy),
            (SVGChart.Part(name: "transform + network", color: "#1b6ca8"), \.network),
            (SVGChart.Part(name: postprocessing, color: "#e07b00"), \.postprocess),
            (SVGChart.Part(name: "writing results", color: "#2a9d3a"), \.write),
        ]
        // Parts that took no time in this run (copies on a CPU) are left out of the legend.
        let shown = all.filter { part in ordered.contains { part.seconds($0) > 0 } }
        let group = max(1, (ordered.count + 119) / 120)
        let bars = stride(from: 0, to: ordered.count, by: group).map { start -> SVGChart.Bar in
            let slice = ordered[start..<min(start + group, ordered.count)], n = Double(slice.count)
            let values = shown.map { part in slice.map(part.seconds).reduce(0, +) / n }
            let name = group == 1 ? "batch \(start + 1)" : "batches \(start + 1)-\(start + slice.count), mean"
            return SVGChart.Bar(first: start + 1, last: start + slice.count, name: name, values: values)
        }
        var html = "<h2>Where the time went, per batch</h2>"
        html += "<p>Each bar is one device's time on a batch, part after part: "
            + e(listed(shown.map(\.part.name))) + ". Its height is the batch's time on the device.</p>"
        html += SVGChart(legend: shown.map(\.part)).stacked(bars, unit: "s",
                                   xLabel: group == 1 ? "batch, in the order they finished" : "batch, in the order they finished (groups of \(group) averaged)",
                                   yLabel: "seconds")
        let read = ordered.reduce(0) { $0 + $1.read }, waited = ordered.reduce(0) { $0 + $1.wait }
        let readers = r.setting("workers").flatMap(Int.init).map { " \(counted($0, "reader thread"))" } ?? " reader threads"
        html += "<p>The\(readers) took " + String(format: "%.2f s per batch to read and convert its tiles (%.1f s in all). ", read / Double(ordered.count), read)
            + String(format: "They work while the device does, so the bars leave their time out and show only what the device waited for them: %.1f s in all.</p>", waited)
        return html
    }

    private static func memory(_ r: RunReport) -> String {
        let (keys, name) = devices(r)
        let ordered = r.batches.sorted { $0.finishedAt < $1.finishedAt }
        let multiRank = Set(r.batches.map(\.rank)).count > 1
        var series = Set(r.batches.map(\.rank)).sorted().map { rank in
            SVGChart.Series(name: multiRank ? "rank \(rank) process" : "process",
                            points: ordered.filter { $0.rank == rank }.map { ($0.finishedAt, Double($0.peakRSS) / 1e9) })
        }
        series += keys.map { key in
            SVGChart.Series(name: name(key) + " model + batch",
                            points: ordered.filter { $0.deviceKey == key }.map { ($0.finishedAt, Double($0.deviceBytes) / 1e9) })
        }
        let peak = Double(r.batches.map(\.peakRSS).max() ?? 0) / 1e9
        let html = "<h2>Memory over time</h2>"
        guard series.allSatisfy({ $0.points.count >= fewestPointsToChart }) else {
            let peaks = series.map { s in String(format: "%@ %.2f GB", s.name, s.points.map(\.y).max() ?? 0) }
            return html + "<p>Highest after a batch: \(e(listed(peaks))). Too few batches to chart over time.</p>"
        }
        return html + SVGChart(legend: SVGChart.parts(series)).lines(series, xLabel: "seconds since start", yLabel: "GB", mark: (String(format: "peak %.2f GB", peak), peak))
    }

    /// "a", "a and b", "a, b and c".
    static func listed(_ items: [String]) -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " and " + items.last!
    }

    // MARK: - Map

    private static func map(_ r: RunReport) -> String {
        guard let raster = r.raster else { return "<h2>Tiles</h2><p>Dummy tiles: no raster to map.</p>" + tileCounts(r) }
        return "<h2>Tiles on the raster</h2>" + TileMap(report: r, raster: raster).html() + tileCounts(r)
    }

    private static func tileCounts(_ r: RunReport) -> String {
        var rows = [("Done", "\(r.done.count - r.skipped.count)"), ("Skipped", "\(r.skipped.count)"), ("Not done", "\(r.missing.count)")]
        if r.resultsFormat == .detection {
            let total = r.detectionsPerTile.values.reduce(0, +)
            var text = "\(total) found in the tiles, at most \(r.detectionsPerTile.values.max() ?? 0) in one"
            if let (count, path) = r.resultsWritten {
                text += "; \(count) written to \(path) after the cross-tile merge"
            }
            rows.append(("Detections", text))
        } else if let (count, path) = r.resultsWritten {
            rows.append(("Results", "\(counted(count, "tile")) written to \(path)"))
        }
        if !r.classPerTile.isEmpty {
            let counts = Dictionary(grouping: r.classPerTile.values, by: { $0 }).mapValues(\.count).sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            rows.append(("Top classes", counts.prefix(8).map { "\(r.className($0.key)): \(counted($0.value, "tile"))" }.joined(separator: ", ")))
        }
        return table(rows)
    }
}
