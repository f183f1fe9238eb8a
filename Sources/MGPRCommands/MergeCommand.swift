import Cluster
import Configuration
import Foundation
import Platform
import Raster
import Results
import Tiling

/// `mgpr merge run_dir=...`: what rank 0 does at the end of a run, after the fact: wait
/// for (or find) every rank's status, merge the results parts into the output file,
/// write the merged summary and name any rank or tile that is missing.
struct MergeCommand {
    let config: RunConfig
    let log = Log()

    func run() throws -> Int32 {
        GDALLibrary.capCacheForRun()
        guard let root = config.runDir else {
            throw ConfigError.invalidValue(key: "run_dir", value: "null", reason: "mgpr merge needs the run directory to merge")
        }
        let layout = RunLayout(root: root)
        let ranks = layout.ranksPresent
        // By folder: a damaged status may name another rank.
        let statuses = ranks.compactMap { rank in layout.readStatus(rank).map { (path: layout.status(rank), status: $0) } }
        guard let (statusPath, status) = statuses.first else { throw ClusterError.noRun(path: root) }
        // Every rank records the run's shape; one that disagrees is damaged, and trusting
        // either would merge the wrong tiles.
        if let (path, other) = statuses.first(where: { $0.status.tileCount != status.tileCount || $0.status.worldSize != status.worldSize }) {
            throw ClusterError.unreadable(
                path: path,
                reason: "it says \(other.tileCount) tiles over \(other.worldSize) ranks, and \(statusPath) "
                    + "\(status.tileCount) over \(status.worldSize): one of them is damaged")
        }
        if let raster = status.raster, raster.geotransform.count != 6 || raster.width < 0 || raster.height < 0 {
            throw ClusterError.unreadable(
                path: statusPath,
                reason: "damaged: a geotransform of \(raster.geotransform.count) coefficients, not 6, or a negative size")
        }
        guard status.worldSize >= 1, status.tileCount >= 0 else {
            throw ClusterError.unreadable(path: statusPath, reason: "damaged: world size \(status.worldSize)")
        }
        // After the fact, a rank without a status holds nothing back once every tile is
        // journaled (under share=claim, a rank that never started did no tiles at all).
        let journaled = (try? Gather(layout: layout, worldSize: status.worldSize, timeout: 0, attempt: nil)
            .records(parts: false, tileCount: status.tileCount, window: nil))?.done.count
        let everyTile = journaled == status.tileCount
        _ = try Self.gather(
            layout: layout, worldSize: status.worldSize, tileCount: status.tileCount,
            window: try Self.grid(status, path: statusPath).map { grid in grid.window(at:) },
            output: config.settings.explicit.contains("output") ? ResultsTarget.resolve(config, runDirectory: root) : status.output,
            raster: status.raster, labels: status.labels,
            timeout: config.gatherTimeout, attempt: nil, log: log, printRanks: true, worthWaiting: { _ in !everyTile })
        return 0
    }

    /// The tile grid of a raster's run, as its status records it; nil for dummy tiles.
    static func grid(_ status: RankStatus, path statusPath: String) throws -> TileGrid? {
        guard let r = status.raster else { return nil }
        guard r.width > 0, r.height > 0, r.tileSize > 0, (0..<r.tileSize).contains(r.overlap),
            r.grid.count == status.tileCount
        else {
            throw ClusterError.unreadable(
                path: statusPath,
                reason: "damaged: \(status.tileCount) tiles do not tile \(r.width)x\(r.height) px at tile_size \(r.tileSize), overlap \(r.overlap)")
        }
        return r.grid
    }

    /// Gathers the ranks of `layout`, every journal held to its part (rows of another
    /// `window` are another run's); throws, naming ranks and tiles, when any are missing.
    static func gather(
        layout: RunLayout, worldSize: Int, tileCount: Int, window: ((Int) -> Window)?, output: String?, raster: RasterContext?, labels: [String]?, timeout: Double,
        attempt: Int?, log: Log, printRanks: Bool, stopRequested: () -> Bool = { false },
        worthWaiting: (Int) throws(ClusterError) -> Bool = { _ in true }
    ) throws -> GatherOutcome {
        let gather = Gather(layout: layout, worldSize: worldSize, timeout: timeout, attempt: attempt)
        let waited = try gather.waitForRanks(log: log.info, stopRequested: stopRequested, worthWaiting: worthWaiting)
        if !waited.stoppedWaitingFor.isEmpty { return .stoppedWaiting(for: waited.stoppedWaitingFor) }
        let (statuses, lost) = (waited.statuses, waited.missing)
        let records = try gather.records(parts: output != nil, tileCount: tileCount, window: window)
        let ranked = statuses.sorted { $0.rank < $1.rank }
        var combined = RunSummary.combined(ranked.compactMap(\.summary))
        if worldSize > 1 {
            combined?.ranks = RunSummary.rankWork(ranked.compactMap { s in s.summary.map { (s.rank, s.host, $0) } })
        }
        if let output {
            let parts = records.parts
            let written: Int
            do {
                // Checked before the first tile: the folder can be made (run_dir's way).
                let folder = PathText.parent(of: output)
                if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
                written = try FinalResults.write(parts, to: output, raster: raster, labels: labels)
            } catch {
                throw CommandError.resultsNotWritten(path: output, reason: "\(SystemError.reason(error))", runDirectory: layout.root)
            }
            log.info("Results: \(counted(written, parts.format?.rowName ?? "tile")) written to \(output)")
            combined?.resultsPath = output
            combined?.resultsWritten = written
        }
        if let combined {
            try write(combined, to: (layout.root as NSString).appendingPathComponent("summary.json"))
            if printRanks {
                log.info("Gathered \(statuses.count) of \(counted(worldSize, "rank"))")
                Terminal.standardOutput(SummaryReport.text(combined, deviceKind: SummaryReport.kind(of: combined)))
                if let ranks = combined.ranks, ranks.count > 1 { Terminal.standardOutput(SummaryReport.ranks(ranks, claims: combined.claims, tiles: tileCount)) }
            }
        }
        let notDone = gather.missingTiles(records, tileCount: tileCount)
        // The report shows lost ranks and missing tiles first: written before they are thrown.
        do { log.info("Report: \(try ReportCommand.write(root: layout.root))") } catch {
            log.warning("The report could not be written: \(SystemError.reason(error))")
        }
        if !lost.isEmpty, !notDone.isEmpty {
            throw ClusterError.missingRanks(ranks: lost, tilesNotDone: notDone.count, listedIn: layout.missingTiles, waited: timeout)
        }
        if !notDone.isEmpty { throw ClusterError.incomplete(tilesNotDone: notDone.count, listedIn: layout.missingTiles) }
        let away = (lost + waited.absent).sorted()
        if !away.isEmpty {
            log.info("Rank\(away.count == 1 ? "" : "s") \(away.map(String.init).joined(separator: ", ")) did not finish, "
                + "but every tile is journaled: the results are whole")
        }
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
