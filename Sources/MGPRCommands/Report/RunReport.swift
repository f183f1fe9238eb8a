import Cluster
import Foundation
import Pipeline

/// What a run directory says about its run, read for the report: the settings, every
/// rank's status and per-batch metrics, which tiles are done, skipped or missing, and
/// per tile what the model found. Reads only what the run wrote; nothing is recomputed.
struct RunReport {
    struct Batch {
        var rank: Int, device: Int, tiles: Int, skipped: Int
        var wait: Double, read: Double, busy: Double, write: Double, network: Double, finishedAt: Double
        var peakRSS: Int, deviceBytes: Int
    }

    let root: String
    var settings: [(key: String, value: String)] = []
    var statuses: [RankStatus] = []
    var batches: [Batch] = []
    var worldSize = 1
    var tileCount = 0
    var done = Set<Int>()
    var skipped = Set<Int>()
    /// Per tile, the number of detections, or the top class (classifiers).
    var detectionsPerTile: [Int: Int] = [:]
    var classPerTile: [Int: Int] = [:]

    var missing: [Int] { (0..<tileCount).filter { !done.contains($0) } }
    var lostRanks: [Int] {
        (0..<worldSize).filter { rank in statuses.first { $0.rank == rank }.map { $0.state != .finished } ?? true }
    }
    var raster: RasterContext? { statuses.lazy.compactMap(\.raster).first }

    static func load(_ root: String) throws -> RunReport {
        let layout = RunLayout(root: root)
        var report = RunReport(root: root)
        report.statuses = layout.ranksPresent.compactMap(layout.readStatus)
        guard let first = report.statuses.first else { throw ClusterError.noRun(path: root) }
        (report.worldSize, report.tileCount) = (first.worldSize, first.tileCount)
        if let yaml = try? String(contentsOfFile: (root as NSString).appendingPathComponent("config.yaml"), encoding: .utf8) {
            report.settings = yaml.split(separator: "\n").compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
        }
        for rank in layout.ranksPresent {
            report.batches += metrics(layout.metrics(rank), rank: rank)
            report.done.formUnion(Journal.read(layout.journal(rank)))
            report.skipped.formUnion(Journal.skipped(layout.journal(rank)))
            report.readResults(layout.results(rank))
        }
        return report
    }

    /// metrics.csv by its header, so files from before a column existed still read.
    private static func metrics(_ path: String, rank: Int) -> [Batch] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n")
        guard let header = lines.first?.split(separator: ",").map(String.init) else { return [] }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        return lines.dropFirst().compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            func double(_ name: String) -> Double { column(name).flatMap { $0 < f.count ? Double(f[$0]) : nil } ?? 0 }
            func int(_ name: String) -> Int { column(name).flatMap { $0 < f.count ? Int(f[$0]) : nil } ?? 0 }
            guard f.count == header.count || f.count >= 10 else { return nil }
            return Batch(
                rank: rank, device: int("device"), tiles: int("tiles"), skipped: int("skipped"), wait: double("wait_s"),
                read: double("read_s"), busy: double("busy_s"), write: double("write_s"),
                network: column("network_s") == nil ? double("busy_s") : double("network_s"), finishedAt: double("finished_at_s"),
                peakRSS: int("peak_rss_bytes"), deviceBytes: int("device_bytes"))
        }
    }

    /// A rank's results part: detections counted per tile, or each tile's top class.
    private mutating func readResults(_ path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        let lines = text.split(separator: "\n")
        let detections = lines.first.map(String.init) == DetectionCSV.header
        var previous: Int?
        for line in lines.dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard let tile = Int(f[0]) else { continue }
            if detections {
                if tile != previous { detectionsPerTile[tile] = 0 }  // a tile written again replaces its rows
                previous = tile
                detectionsPerTile[tile, default: 0] += (f.count > 5 && !f[5].isEmpty) ? 1 : 0
            } else if f.count > 5, let top = Int(f[5]) {
                classPerTile[tile] = top
            }
        }
    }
}
