import Cluster
import Configuration
import Foundation
import Results

/// What a run directory says about its run, read for the report: the settings, every
/// rank's status and per-batch metrics, which tiles are done, skipped or missing, and
/// per tile what the model found. Reads only what the run wrote; nothing is recomputed.
struct RunReport {
    struct Batch {
        var rank: Int, device: Int, tiles: Int, skipped: Int
        var wait: Double, read: Double, busy: Double, write: Double, network: Double, finishedAt: Double
        var copy: Double, postprocess: Double
        var peakRSS: Int, deviceBytes: Int

        init(rank: Int, _ r: BatchRecord) {
            (self.rank, device, tiles, skipped) = (rank, r.device, r.tiles, r.skipped)
            (wait, read, busy, write, network, finishedAt) = (r.waitSeconds, r.readSeconds, r.busySeconds, r.writeSeconds, r.networkSeconds, r.finishedAt)
            (copy, postprocess) = (r.copySeconds, r.postprocessSeconds)
            (peakRSS, deviceBytes) = (r.peakRSSBytes, r.deviceBytes)
        }

        /// The device's own time on the batch, part after part: waiting, busy, writing.
        var deviceSeconds: Double { wait + busy + write }
        var deviceKey: String { "\(rank):\(device)" }
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
    /// What the ranks' results parts hold (nil when none could be read).
    var resultsFormat: PartFormat?
    /// The final results file and its rows (boxes after the cross-tile merge, or
    /// tiles), from the run's `summary.json`, once the ranks were gathered.
    var resultsWritten: (count: Int, path: String)?
    /// Class names by index, when the model's weights name them.
    var labels: [String]?

    var isDetector: Bool {
        resultsFormat == .detection || setting("model").flatMap(ModelName.init(rawValue:))?.task == .detection
    }

    /// A setting from the run's config.yaml, as written there.
    func setting(_ key: String) -> String? { settings.first { $0.key == key }?.value }

    /// A class as the page names it: its label where the weights give one.
    func className(_ index: Int) -> String {
        labels.flatMap { index >= 0 && index < $0.count && !$0[index].isEmpty ? "\($0[index]) (class \(index))" : nil } ?? "class \(index)"
    }

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
        report.labels = report.statuses.lazy.compactMap(\.labels).first
        let summaryPath = (root as NSString).appendingPathComponent("summary.json")
        if let data = FileManager.default.contents(atPath: summaryPath),
           let summary = try? JSONDecoder().decode(RunSummary.self, from: data),
           let count = summary.resultsWritten, let path = summary.resultsPath {
            report.resultsWritten = (count, path)
        }
        for rank in layout.ranksPresent {
            report.batches += BatchRecord.read(metricsCSV: layout.metrics(rank)).map { Batch(rank: rank, $0) }
            // A damaged journal or part leaves its tiles blank: the report shows what it can.
            let entries = (try? Journal.entries(layout.journal(rank), tileCount: report.tileCount)) ?? []
            report.done.formUnion(entries.map(\.tile))
            report.skipped.formUnion(entries.filter(\.skipped).map(\.tile))
            guard let written = (try? WrittenPart.read(layout.results(rank))) ?? nil else { continue }
            let part = ResultsParts(format: written.format, rows: written.rows)
            report.resultsFormat = report.resultsFormat ?? part.format
            switch part.format {
            case .detection: report.detectionsPerTile.merge(part.detectionCounts) { $1 }
            case .classification: report.classPerTile.merge(part.topClasses) { $1 }
            case .segmentation, nil: break
            }
        }
        return report
    }
}
