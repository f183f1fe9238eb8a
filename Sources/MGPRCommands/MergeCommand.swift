import Cluster
import Configuration
import Foundation
import Platform
import Results

/// `mgpr merge run_dir=...`: what rank 0 does at the end of a run, after the fact: wait
/// for (or find) every rank's status, merge the results parts into the output file,
/// write the merged summary and name any rank or tile that is missing.
struct MergeCommand {
    let config: RunConfig
    let log = Log()

    func run() throws -> Int32 {
        guard let root = config.runDir else {
            throw ConfigError.invalidValue(key: "run_dir", value: "null", reason: "mgpr merge needs the run directory to merge")
        }
        let layout = RunLayout(root: root)
        let ranks = layout.ranksPresent
        guard let status = ranks.lazy.compactMap(layout.readStatus).first else { throw ClusterError.noRun(path: root) }
        if let raster = status.raster, raster.geotransform.count != 6 || raster.width < 0 || raster.height < 0 {
            throw ClusterError.unreadable(
                path: layout.status(status.rank),
                reason: "damaged: a geotransform of \(raster.geotransform.count) coefficients, not 6, or a negative size")
        }
        guard status.worldSize >= 1, status.tileCount >= 0 else {
            throw ClusterError.unreadable(path: layout.status(status.rank), reason: "damaged: world size \(status.worldSize)")
        }
        _ = try Self.gather(
            layout: layout, worldSize: status.worldSize, tileCount: status.tileCount,
            output: config.settings.explicit.contains("output") ? ResultsTarget.resolve(config, runDirectory: root) : status.output,
            raster: status.raster, labels: status.labels,
            timeout: config.gatherTimeout, attempt: nil, log: log, printRanks: true)
        return 0
    }

    /// Gathers the ranks of `layout`; throws, naming ranks and tiles, when any are missing.
    static func gather(
        layout: RunLayout, worldSize: Int, tileCount: Int, output: String?, raster: RasterContext?, labels: [String]?, timeout: Double,
        attempt: Int?, log: Log, printRanks: Bool, stopRequested: () -> Bool = { false }
    ) throws -> GatherOutcome {
        let gather = Gather(layout: layout, worldSize: worldSize, timeout: timeout, attempt: attempt)
        let waited = try gather.waitForRanks(log: log.info, stopRequested: stopRequested)
        if !waited.stoppedWaitingFor.isEmpty { return .stoppedWaiting(for: waited.stoppedWaitingFor) }
        let (statuses, lost) = (waited.statuses, waited.missing)
        if let output {
            let parts = try gather.readParts()
            let written: Int
            do {
                // Checked before the first tile: the folder can be made (run_dir's way).
                let folder = PathText.parent(of: output)
                if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
                written = try FinalResults.write(parts, to: output, raster: raster, labels: labels)
            } catch {
                throw CommandError.resultsNotWritten(path: output, reason: "\(error)", runDirectory: layout.root)
            }
            log.info("Results: \(written) \(parts.format?.rowNoun ?? "tiles") written to \(output)")
        }
        if let combined = RunSummary.combined(statuses.sorted { $0.rank < $1.rank }.compactMap(\.summary)) {
            try write(combined, to: (layout.root as NSString).appendingPathComponent("summary.json"))
            if printRanks {
                log.info("Gathered \(statuses.count) of \(worldSize) ranks")
                Terminal.standardOutput(SummaryReport.text(combined, deviceKind: SummaryReport.kind(of: combined)))
            }
        }
        let notDone = gather.missingTiles(tileCount: tileCount)
        // The report shows lost ranks and missing tiles first: written before they are thrown.
        do { log.info("Report: \(try ReportCommand.write(root: layout.root))") } catch {
            log.warning("The report could not be written: \(error)")
        }
        if !lost.isEmpty {
            throw ClusterError.missingRanks(ranks: lost, tilesNotDone: notDone.count, listedIn: layout.missingTiles, waited: timeout)
        }
        if !notDone.isEmpty { throw ClusterError.incomplete(tilesNotDone: notDone.count, listedIn: layout.missingTiles) }
        return .gathered
    }

    enum GatherOutcome: Equatable {
        case gathered
        /// A stop was asked for while these ranks were still running: nothing was written.
        case stoppedWaiting(for: [Int])
    }

    static func write(_ summary: RunSummary, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(summary).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CommandError.writeFailed(path: path, reason: SystemError.reason(error))
        }
    }
}
