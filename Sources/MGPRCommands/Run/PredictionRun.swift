import Cluster
import Configuration
import CPUBackend
import CUDA
import Engine
import Foundation
import Pipeline
import Platform
import Raster
import Results
import Tiling

/// One rank's run, in the order it happens: everything checked before anything is
/// created; the run directory claimed (locked, nothing replaced, earlier work found);
/// this rank's tiles through the model, results and journal; then how it ended said in
/// its status, and rank 0 gathers every rank into one result.
struct PredictionRun {
    let config: RunConfig
    let context: RankContext
    let log: Log
    let signals: SignalWatcher

    /// What was checked before anything is created.
    struct Checked {
        var devices: Devices
        var cores: CPUCores
        var source: any TileSource
        var prepareModel: ModelSetup.Prepared
        var work: WorkIdentity
    }

    /// The run directory as this rank holds it.
    struct Claimed {
        var runDirectory: RunDirectory
        var layout: RunLayout
        var lock: RunLock
        var output: String?
        var resume: Bool
        /// The statistics of this rank's earlier attempts, which a resumed run continues.
        var earlier: RunSummary?
    }

    /// What this rank's tiles came to.
    struct Predicted {
        var summary: RunSummary
        var records: [BatchRecord]
        /// What ran, as the status records it.
        var environment: [String: String]
    }

    /// Returns the exit status (0, or ``PredictCommand/interruptedStatus``).
    func run() throws -> Int32 {
        let start = Date()
        GDALLibrary.capCacheForRun()
        let checked = try check()
        let claimed = try claim(checked)
        defer { withExtendedLifetime(claimed.lock) {} }
        let done = claimed.resume ? try finished(checked.source, claimed) : []
        let tiles = try rankTiles(done: done, checked, claimed)
        defer { tiles.claims?.board.stop() }
        let status = try conclude(try predict(tiles, checked, claimed), checked, claimed, tiles: tiles)
        if status == 0 { log.info(String(format: "Prediction completed in %.2f seconds", Date().timeIntervalSince(start))) }
        return status
    }

    /// This rank's tiles: a fixed share, or chunks claimed as it goes.
    struct RankTiles {
        var share: ShareMode
        /// share=static: this rank's block, and the tiles of it left to do.
        var block: Range<Int> = 0..<0
        var plan: [Int] = []
        /// share=claim: the board's chunks, claimed from the run's tiles left.
        var claims: ChunkClaims?
        var left = 0
    }

    /// The share mode (given; else what a resumed run recorded; else claim for several
    /// ranks) and this rank's tiles under it.
    private func rankTiles(done: Set<Int>, _ checked: Checked, _ claimed: Claimed) throws -> RankTiles {
        let count = checked.source.count
        let recorded = claimed.resume ? (try claimed.layout.readWork())?.share : nil
        var mode = config.share ?? (claimed.resume ? recorded ?? .static : freshShare)
        if mode == .claim, context.launchName == nil {
            log.info("share=claim needs an id of this launch that all its ranks share (SLURM_JOB_ID, or torchrun's "
                + "TORCHELASTIC_RUN_ID, as --rdzv-id or --standalone set it): sharing the tiles statically instead")
            mode = .static
        }
        guard mode == .claim, let launch = context.launchName else {
            let block = context.share(of: count)
            let plan = block.filter { !done.contains($0) }
            if claimed.resume { log.info("Resuming: \(block.count - plan.count) of this rank's \(counted(block.count, "tile")) already done") }
            return RankTiles(share: .static, block: block, plan: plan)
        }
        if claimed.resume { log.info("Resuming: \(done.count) of the run's \(counted(count, "tile")) already done") }
        let board = try ClaimBoard(
            directory: claimed.layout.claimsDirectory(launch: launch), rank: context.rank, lease: config.claimLease)
        board.startRenewing()
        let schedule = ChunkSchedule(tileCount: count, worldSize: context.worldSize, unit: config.batchSize)
        let claims = ChunkClaims(
            schedule: schedule, board: board, doneBefore: done, journal: { [layout = claimed.layout] in layout.journal($0) })
        return RankTiles(share: .claim, claims: claims, left: count - done.count)
    }

    /// How a fresh run shares its tiles: as asked, else by claims when there are several ranks.
    private var freshShare: ShareMode { config.share ?? (context.isDistributed ? .claim : .static) }

    /// The tiles earlier attempts finished, every journal read and held to its part: this
    /// rank's part, or every rank's when one process resumes them all (the parts of ranks
    /// running beside this one are theirs to check, and rank 0's gather checks them all).
    private func finished(_ source: any TileSource, _ claimed: Claimed) throws -> Set<Int> {
        let ranks = claimed.layout.ranksPresent
        let parts = claimed.output == nil ? [] : context.isDistributed ? [context.rank] : ranks
        return try RunRecords.read(
            claimed.layout, ranks: ranks, partsOf: parts, tileCount: source.count, window: { source.info(at: $0).window }
        ).done
    }

    /// The devices, the input, the memory it needs and the model, checked before anything is created.
    private func check() throws -> Checked {
        let devices = try Devices.choose(config, context: context, log: log)
        if let reason = devices.cpuReason { log.info("accelerator=auto: running on the CPU: \(reason)") }
        log.info("GPU available: \(devices.onGPU ? "True (cuda)" : "False"), used: \(devices.onGPU ? "True" : "False")")
        let cores = CPUCores.current()
        let source = try makeSource()
        if config.model.task == .segmentation, !(source is RasterTileSource), config.output?.lowercased() != "none" {
            throw ConfigError.invalidValue(
                key: "image_path", value: "null",
                reason: "\(config.model.rawValue) writes a class raster in the input raster's grid, and dummy tiles have none: "
                    + "give image_path=RASTER (use_fake_data=false), or output=none to time the model on dummy tiles")
        }
        try MemoryEstimate.check(config, tileShape: source.tileShape, tiles: source.count, physical: ProcessMemory.physicalBytes)
        let prepareModel = try ModelSetup.check(config, tileShape: source.tileShape, devices: devices, log: log)
        return Checked(
            devices: devices, cores: cores, source: source, prepareModel: prepareModel,
            work: try RunWork.identity(config, source: source, share: freshShare))
    }

    /// The run directory made, locked for this rank, checked to replace nothing and to
    /// hold the same work when resuming, and reset or continued.
    private func claim(_ checked: Checked) throws -> Claimed {
        let resume = config.resume || context.restartCount > 0
        let runDirectory = try RunDirectory(configured: try runDirectoryPath(work: checked.work))
        let output = ResultsTarget.resolve(config, runDirectory: runDirectory.path)
        let layout = RunLayout(root: runDirectory.path)
        // The ranks of one job start at slightly different times and would see each other's
        // fresh files: only a single process judges what its run directory held before.
        let holding = context.isDistributed ? .nothing : RunHistory.holding(layout)
        try layout.prepare(rank: context.rank)
        let lock = try RunLock(
            path: (layout.rankDirectory(context.rank) as NSString).appendingPathComponent("lock"), runDirectory: runDirectory.path)
        // After the lock, so that a run still going is named as such.
        try RunHistory.checkNothingReplaced(config, layout: layout, holding: holding, resume: resume, output: output)
        try RunWork.check(checked.work, layout: layout, resume: resume, log: log)
        let earlier = resume ? layout.readStatus(context.rank)?.summary : nil
        if resume { layout.clearStatus(rank: context.rank) } else { layout.reset(rank: context.rank) }
        if context.rank == 0 { try runDirectory.saveConfig(config.settings) }
        log.info("Run directory: \(runDirectory.path)\(resume ? " (resuming)" : "")")
        if let output {
            log.info("Results will be written to \(output)\(config.output == nil ? " (set output=PATH to choose, output=none to discard)" : "")")
        } else if config.model.defaultOutput != nil {
            log.info("Results are not kept (output=none)")
        }
        return Claimed(runDirectory: runDirectory, layout: layout, lock: lock, output: output, resume: resume, earlier: earlier)
    }

    /// This rank's tiles through the model, each batch's results then its journal line;
    /// the summary continues the earlier attempts'.
    private func predict(_ tiles: RankTiles, _ checked: Checked, _ claimed: Claimed) throws -> Predicted {
        let (devices, source, layout, output) = (checked.devices, checked.source, claimed.layout, claimed.output)
        let segmentation = (source as? RasterTileSource).map {
            SegmentationLayout(grid: $0.grid, stitch: config.stitch, probabilities: config.probabilities)
        }
        // Byte and UInt16 tiles cross to a GPU detector as stored; it scales them.
        let pixels = checked.prepareModel.storedPixels ? source.storedPixels ?? .float32 : .float32
        let model = try checked.prepareModel(ModelSetup.PartFile(
            path: layout.results(context.rank), append: claimed.resume, output: output, segmentation: segmentation, pixels: pixels))
        let journal = try Journal(path: layout.journal(context.rank))
        let rank = context.rank, distributed = context.isDistributed
        let feed: any TileFeed = tiles.claims.map { [log] claims in
            ClaimedTiles(claims: claims, untilAllDone: rank == 0, log: { log.info($0) })
        } ?? PlannedTiles(tiles.plan)
        let loader = try Loader(
            source: source, feed: feed, batchSize: config.batchSize, workers: config.workers, prefetch: config.prefetch,
            consumers: devices.models, memoryBudget: config.loaderMemoryBytes,
            hostMemory: devices.backends[0].hostMemory, encoding: pixels)
        let deviceCount = "\(devices.count) \(devices.kind) device\(devices.count == 1 ? "" : "s")"
        let how = "on \(deviceCount) with \(counted(config.workers, "worker"))"
        if let claims = tiles.claims {
            let sizes = (0..<claims.schedule.count).map { claims.schedule.tiles(of: $0).count }
            let chunks = "\(counted(sizes.count, "chunk")) of \(sizes.min() ?? 0) to \(sizes.max() ?? 0) tiles"
            let lease = String(format: "%g s", config.claimLease)
            let left = "\(counted(tiles.left, "tile")) of \(source.count) left"
            log.info("Predicting tiles of \(source.tileShape) claimed as this rank goes (share=claim: \(left), in \(chunks), "
                + "claimed in \(claims.board.directory), lease \(lease)) in batches of \(config.batchSize) \(how)")
        } else {
            let (plan, block) = (tiles.plan, tiles.block)
            log.info(
                "Predicting \(counted(plan.count, "tile")) of \(source.tileShape) (tiles \(block.lowerBound)..<\(block.upperBound) of \(source.count)) "
                    + "in \(counted(loader.plannedBatches ?? 0, "batch", plural: "batches")) of \(config.batchSize) \(how)")
        }
        if pixels != .float32 { log.info("Tiles cross to the GPU as stored \(pixels) samples, scaled to [0, 1] there") }
        log.info(model.summary)
        let environment = [
            "model": model.summary, "mgpr": Main.version, "gdal": GDALLibrary.version,
            "machine": String(format: "%@, cores %@, %.1f GB", ProcessInfo.processInfo.hostName, checked.cores.description,
                              Double(ProcessMemory.physicalBytes) / 1e9),
            "devices": "\(deviceCount), \(config.workers) reader threads",
        ]
        // Said before the first tile, so `mgpr report` and `mgpr merge` can read a run that
        // is still going or was killed outright; replaced by how it ended.
        try layout.write(status(.running, checked, summary: nil, output: output, environment: environment, tiles: tiles))

        let progress = ProgressBar(
            total: tiles.claims == nil ? tiles.plan.count : nil, interactive: Terminal.stderrIsTerminal, logInterval: config.logInterval,
            logSeconds: config.logIntervalSeconds,
            write: Terminal.standardError)
        let recorder = try RunRecorder(
            metricsPath: layout.metrics(context.rank),
            continuing: claimed.earlier.map { (batches: $0.batches, seconds: $0.elapsedSeconds) })
        let claims = tiles.claims
        let run = InferenceRun(
            loader: loader, devices: devices.count, lanes: devices.lanes,
            deviceName: { [backends = devices.backends] in (distributed ? "Rank \(rank) " : "") + backends[$0].deviceName },
            makeModel: model.makeModel,
            handleOutputs: { [handleOutputs = model.handleOutputs] batch, outputs in
                let rows = try handleOutputs(batch, outputs)
                // Only while this rank surely holds its claims: another may have taken them over.
                try claims?.checkLease()
                // After the results: a journaled tile is saved, with the rows that vouch for it.
                try journal.record(
                    batch.tiles.enumerated().map { ($1.index, rows?[$0]) }, skipped: batch.skipped.map(\.index))
                try claims?.journaled(batch.tiles.map(\.index) + batch.skipped.map(\.index))
            },
            recorder: recorder, progress: progress)
        signals.attach(run.stop)
        let monitor = devices.onGPU ? UtilizationMonitor(devices: devices.gpus) : nil
        var summary: RunSummary
        let startedAt = Date().timeIntervalSince1970
        do {
            summary = try run.run()
            summary.startedAt = startedAt
            if let last = recorder.records.map(\.finishedAt).max() { summary.lastTileAt = startedAt + last }
            if let claims {
                let counts = claims.counts
                summary.claims = .init(chunks: counts.claimed, takenOver: counts.takenOver, operations: claims.board.operations)
            }
            let steady = BatchRecord.steadyWindow(recorder.records).map { (startedAt + $0.lowerBound)...(startedAt + $0.upperBound) }
            if let readings = monitor?.stop(steady: steady) { summary.record(readings, devices: devices) }
            if let earlier = claimed.earlier { summary = summary.continuing(earlier) }
        } catch {
            try? model.finish()
            journal.close()
            try? layout.write(status(.failed, checked, summary: nil, output: output, environment: environment, tiles: tiles))
            throw error
        }
        try model.finish()
        journal.close()
        return Predicted(summary: summary, records: recorder.records, environment: environment)
    }

    /// How the rank ended, in its status and on the terminal; then, on rank 0, every
    /// rank gathered into the results file, or the command that continues a stopped run.
    private func conclude(_ predicted: Predicted, _ checked: Checked, _ claimed: Claimed, tiles: RankTiles) throws -> Int32 {
        let (source, layout, runDirectory) = (checked.source, claimed.layout, claimed.runDirectory)
        let (summary, environment) = (predicted.summary, predicted.environment)
        let interrupted = signals.signalReceived
        try layout.write(status(
            interrupted == nil ? .finished : .interrupted, checked, summary: summary, output: claimed.output,
            environment: environment, tiles: tiles))
        Terminal.standardOutput(SummaryReport.text(summary, deviceKind: checked.devices.kind))
        if config.profiler == .simple {
            Terminal.standardOutput(SummaryReport.profile(summary, records: predicted.records))
        }

        if let interrupted {
            if context.rank == 0 {
                // What the ranks have done so far, so a stopped run still says where it stands.
                let parts = layout.ranksPresent.compactMap(layout.readStatus).compactMap(\.summary)
                if let combined = RunSummary.combined(parts) {
                    try MergeCommand.write(combined, to: runDirectory.file("summary.json"))
                }
            }
            requeueIfAsked(by: interrupted)
            log.warning(
                "Stopped by \(SignalWatcher.name(interrupted)) with \(counted(summary.tiles, "tile")) done; exiting with status "
                    + "\(PredictCommand.interruptedStatus). To continue: "
                    + RunHistory.resumeCommand(arguments: Array(CommandLine.arguments.dropFirst()), runDirectory: runDirectory.path))
            return PredictCommand.interruptedStatus
        }
        guard context.rank == 0 else { return 0 }
        let outcome = try MergeCommand.gather(
            layout: layout, worldSize: context.worldSize, tileCount: source.count, window: { source.info(at: $0).window },
            output: claimed.output,
            raster: rasterContext(checked), labels: config.labelNames,
            timeout: config.gatherTimeout, attempt: context.restartCount, log: log, printRanks: context.isDistributed,
            stopRequested: { signals.signalReceived != nil },
            // Under share=claim this rank's feed ended with every chunk done: a rank not
            // renewing its lease (never joined, or died) has nothing left to give.
            worthWaiting: { [board = tiles.claims?.board] rank throws(ClusterError) in try board?.renewing(rank: rank) ?? true })
        if case .stoppedWaiting(let ranks) = outcome, let signal = signals.signalReceived {
            requeueIfAsked(by: signal)
            log.warning(
                "Stopped by \(SignalWatcher.name(signal)) while waiting for rank\(ranks.count == 1 ? "" : "s") "
                    + "\(ranks.map(String.init).joined(separator: ", ")); this rank's work is kept: "
                    + "`mgpr merge run_dir=\(runDirectory.path)` gathers the results once every rank is done; "
                    + "exiting with status \(PredictCommand.interruptedStatus)")
            return PredictCommand.interruptedStatus
        }
        return 0
    }

    /// Where every rank of the job writes: run_dir, or a folder named by the job, so ranks
    /// agree without being told (a clock-derived name would differ between them).
    private func runDirectoryPath(work: WorkIdentity) throws -> String? {
        if let configured = config.runDir { return configured }
        if let job = context.jobID {
            return context.launcher == .slurm ? "outputs/slurm-\(job)" : "outputs/\(context.launcher.rawValue)-\(job)"
        }
        if context.isDistributed { throw ClusterError.noRunDirectory(launcher: context.launcher.rawValue) }
        guard config.resume else { return nil }
        // resume=true alone continues the newest run of this very work.
        guard let newest = RunHistory.runs(matching: work).first else {
            throw ConfigError.invalidValue(
                key: "resume", value: "true",
                reason: "no run under outputs/ records this work (image, model, weights, tile grid and thresholds); "
                    + "give run_dir=PATH of the run to continue")
        }
        log.info("resume=true: continuing \(newest), the newest run under outputs/ with this work")
        return newest
    }

    private func status(
        _ state: RankStatus.State, _ checked: Checked, summary: RunSummary?, output: String?, environment: [String: String],
        tiles: RankTiles
    ) -> RankStatus {
        RankStatus(
            rank: context.rank, worldSize: context.worldSize, attempt: context.restartCount, tileCount: checked.source.count,
            share: tiles.block, state: state, output: output, summary: summary,
            raster: rasterContext(checked), labels: config.labelNames, environment: environment,
            shareMode: tiles.share == .claim ? ShareMode.claim.rawValue : nil)
    }

    private func rasterContext(_ checked: Checked) -> RasterContext? {
        guard let raster = (checked.source as? RasterTileSource)?.raster else { return nil }
        // From the root, so `mgpr report` and `mgpr merge` find the raster from any folder.
        return RasterContext(
            imagePath: PathText.absolute(raster.path, from: FileManager.default.currentDirectoryPath), width: raster.width, height: raster.height,
            geotransform: raster.georeference.transform.array, crsWKT: raster.georeference.crsWKT, tileSize: config.tileSize,
            overlap: config.overlap, mergeIoU: config.mergeIoU, merge: config.merge, tiling: config.tiling,
            classes: checked.prepareModel.segmentationClasses,
            stitch: checked.prepareModel.segmentationClasses == nil ? nil : config.stitch,
            probabilities: checked.prepareModel.segmentationClasses == nil ? nil : config.probabilities)
    }

    /// SIGUSR1 under SLURM is the warning before the time limit: rank 0 asks SLURM to
    /// requeue the job (as Lightning does), and the requeued job resumes from the journal.
    private func requeueIfAsked(by signal: Int32) {
        guard signal == SIGUSR1, context.launcher == .slurm, context.rank == 0, let job = context.jobID else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["scontrol", "requeue", job]
        do {
            try process.run()
            process.waitUntilExit()
            log.info("Requeued SLURM job \(job) (scontrol requeue): it will resume from the journal")
        } catch {
            log.error("Could not requeue SLURM job \(job): \(SystemError.reason(error)); resubmit it with resume=true")
        }
    }

}
