import Cluster
import Configuration
import CPUBackend
import CUDABackend
import Engine
import Foundation
import Pipeline
import Raster
import Results
import Tiling

/// `mgpr key=value ...`: this rank's share of the tiles through the model, results and
/// journal into the run directory; rank 0 then gathers every rank into one result.
public struct PredictCommand: Sendable {
    public let config: RunConfig
    let context: RankContext
    let log: Log
    let environment: [String: String]

    /// Exit status of a run stopped by a signal: its work is kept and it can resume.
    public static let interruptedStatus: Int32 = 75

    public init(config: RunConfig, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.config = config
        self.environment = environment
        context = RankContext.discover(environment)
        log = Log(name: context.logName)
    }

    /// Runs and returns the exit status (0, or ``interruptedStatus``).
    public func run() throws -> Int32 {
        let start = Date()
        try checkRank()
        let signals = SignalWatcher(log: log)
        defer { signals.cancel() }
        if context.rank == 0 { Terminal.standardOutput(config.settings.yaml) }
        announce()
        // The devices, the input and the model are checked before anything is created.
        let devices = try Devices.choose(config, context: context, log: log)
        if let reason = devices.cpuReason { log.info("accelerator=auto: running on the CPU: \(reason)") }
        log.info("GPU available: \(devices.onGPU ? "True (cuda)" : "False"), used: \(devices.onGPU ? "True" : "False")")
        let cores = CPUCores.current()
        let source = try makeSource()
        try MemoryEstimate.check(config, tileShape: source.tileShape, tiles: source.count, physical: ProcessMemory.physicalBytes)
        let prepareModel = try ModelSetup.check(config, tileShape: source.tileShape, devices: devices, log: log)

        let work = try RunWork.identity(config, source: source)
        let resume = config.resume || context.restartCount > 0
        let runDirectory = try RunDirectory(configured: try runDirectoryPath(work: work))
        let output = ResultsTarget.resolve(config, runDirectory: runDirectory.path)
        let layout = RunLayout(root: runDirectory.path)
        // The ranks of one job start at slightly different times and would see each other's
        // fresh files: only a single process judges what its run directory held before.
        let holding = context.isDistributed ? .nothing : RunHistory.holding(layout)
        try layout.prepare(rank: context.rank)
        let lock = try RunLock(
            path: (layout.rankDirectory(context.rank) as NSString).appendingPathComponent("lock"), runDirectory: runDirectory.path)
        defer { withExtendedLifetime(lock) {} }
        // After the lock, so that a run still going is named as such.
        try RunHistory.checkNothingReplaced(config, layout: layout, holding: holding, resume: resume, output: output)
        try RunWork.check(work, layout: layout, resume: resume, log: log)
        // A resumed run's statistics continue the earlier attempts' of this rank.
        let earlier = resume ? layout.readStatus(context.rank)?.summary : nil
        if resume { layout.clearStatus(rank: context.rank) } else { layout.reset(rank: context.rank) }
        if context.rank == 0 { try runDirectory.saveConfig(config.settings) }
        log.info("Run directory: \(runDirectory.path)\(resume ? " (resuming)" : "")")
        if let output {
            log.info("Results will be written to \(output)\(config.output == nil ? " (set output=PATH to choose, output=none to discard)" : "")")
        } else if config.model.defaultOutput != nil {
            log.info("Results are not kept (output=none)")
        }

        let share = context.share(of: source.count)
        let done = resume ? layout.doneTiles(worldSize: context.worldSize) : []
        let plan = share.filter { !done.contains($0) }
        if resume { log.info("Resuming: \(share.count - plan.count) of this rank's \(share.count) tiles already done") }

        let model = try prepareModel(ModelSetup.PartFile(path: layout.results(context.rank), append: resume, output: output))
        let journal = try Journal(path: layout.journal(context.rank))
        let loader = try Loader(
            source: source, plan: plan, batchSize: config.batchSize, workers: config.workers, prefetch: config.prefetch,
            consumers: devices.count * devices.lanes, memoryBudget: config.loaderMemoryBytes,
            hostMemory: devices.backends[0].hostMemory)
        let deviceCount = "\(devices.count) \(devices.kind) device\(devices.count == 1 ? "" : "s")"
        log.info(
            "Predicting \(plan.count) tiles of \(source.tileShape) (tiles \(share.lowerBound)..<\(share.upperBound) of \(source.count)) "
                + "in \(loader.batchCount) batches of \(config.batchSize) on \(deviceCount) "
                + "with \(config.workers) workers")
        log.info(model.summary)
        let environment = [
            "model": model.summary, "mgpr": Main.version, "gdal": GDALLibrary.version,
            "machine": String(format: "%@, cores %@, %.1f GB", ProcessInfo.processInfo.hostName, cores.description,
                              Double(ProcessMemory.physicalBytes) / 1e9),
            "devices": "\(deviceCount), \(config.workers) reader threads",
        ]
        // Said before the first tile, so `mgpr report` and `mgpr merge` can read a run that
        // is still going or was killed outright; replaced by how it ended.
        try layout.write(status(.running, source: source, summary: nil, output: output, environment: environment))

        let progress = ProgressBar(
            total: loader.batchCount, interactive: Terminal.stderrIsTerminal, logInterval: config.logInterval,
            logSeconds: config.logIntervalSeconds,
            write: Terminal.standardError)
        let recorder = try RunRecorder(metricsPath: layout.metrics(context.rank))
        let rank = context.rank, distributed = context.isDistributed
        let run = InferenceRun(
            loader: loader, devices: devices.count, lanes: devices.lanes,
            deviceName: { [backends = devices.backends] in (distributed ? "Rank \(rank) " : "") + backends[$0].deviceName },
            makeModel: model.makeModel,
            handleOutputs: { [handleOutputs = model.handleOutputs] batch, outputs in
                try handleOutputs(batch, outputs)
                // After the results: a journaled tile is saved.
                try journal.record(batch.tiles.map(\.index), skipped: batch.skipped.map(\.index))
            },
            recorder: recorder, progress: progress)
        signals.attach(run.stop)
        let monitor = devices.onGPU ? UtilizationMonitor(devices: devices.backends.compactMap { ($0 as? CUDABackend)?.device }) : nil
        var summary: RunSummary
        do {
            summary = try run.run()
            if let readings = monitor?.stop() { summary.record(readings, devices: devices) }
            if let earlier { summary = summary.continuing(earlier) }
        } catch {
            try? model.finish()
            journal.close()
            try? layout.write(status(.failed, source: source, summary: nil, output: output, environment: environment))
            throw error
        }
        try model.finish()
        journal.close()
        let interrupted = signals.signalReceived
        try layout.write(status(
            interrupted == nil ? .finished : .interrupted, source: source, summary: summary, output: output, environment: environment))
        Terminal.standardOutput(SummaryReport.text(summary, deviceKind: devices.kind))
        if config.profiler == "simple" {
            Terminal.standardOutput(SummaryReport.profile(summary, records: recorder.records))
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
                "Stopped by \(SignalWatcher.name(interrupted)) with \(summary.tiles) tiles done; exiting with status "
                    + "\(Self.interruptedStatus). To continue: "
                    + RunHistory.resumeCommand(arguments: Array(CommandLine.arguments.dropFirst()), runDirectory: runDirectory.path))
            return Self.interruptedStatus
        }
        if context.rank == 0 {
            let outcome = try MergeCommand.gather(
                layout: layout, worldSize: context.worldSize, tileCount: source.count, output: output,
                raster: rasterContext(source), labels: config.labelNames,
                timeout: config.gatherTimeout, attempt: context.restartCount, log: log, printRanks: context.isDistributed,
                stopRequested: { signals.signalReceived != nil })
            if case .stoppedWaiting(let ranks) = outcome, let signal = signals.signalReceived {
                requeueIfAsked(by: signal)
                log.warning(
                    "Stopped by \(SignalWatcher.name(signal)) while waiting for rank\(ranks.count == 1 ? "" : "s") "
                        + "\(ranks.map(String.init).joined(separator: ", ")); this rank's work is kept: "
                        + "`mgpr merge run_dir=\(runDirectory.path)` gathers the results once every rank is done; "
                        + "exiting with status \(Self.interruptedStatus)")
                return Self.interruptedStatus
            }
        }
        log.info(String(format: "Prediction completed in %.2f seconds", Date().timeIntervalSince(start)))
        return 0
    }

    /// A rank the launcher's variables describe impossibly (RANK=5 with WORLD_SIZE=2,
    /// RANK=-1, RANK=abc, WORLD_SIZE=0) would take no share, someone else's, or every
    /// tile: refuse it, naming the variable.
    private func checkRank() throws {
        if let bad = RankContext.malformed(environment) {
            throw ConfigError.invalidValue(key: bad.name, value: bad.value, reason: bad.reason)
        }
        let (rank, world) = context.launcher == .slurm ? ("SLURM_PROCID", "SLURM_NTASKS") : ("RANK", "WORLD_SIZE")
        guard context.worldSize >= 1 else {
            throw ConfigError.invalidValue(key: world, value: "\(context.worldSize)", reason: "a job has at least one rank")
        }
        guard (0..<context.worldSize).contains(context.rank), context.localRank >= 0 else {
            throw ConfigError.invalidValue(
                key: rank, value: "\(context.rank)",
                reason: "must be in 0...\(context.worldSize - 1) with \(world)=\(context.worldSize) (LOCAL_RANK \(context.localRank))")
        }
    }

    /// The seed's startup lines for a distributed run, and the srun pitfall.
    private func announce() {
        if let tasks = context.slurmTasksWithoutSrun {
            log.warning(
                "SLURM_NTASKS=\(tasks) but this process was not started by srun: running as a single process. "
                    + "Start it with `srun mgpr ...` to run \(tasks) ranks (mgpr doctor explains)")
        }
        guard context.isDistributed else { return }
        log.info("Initializing distributed: GLOBAL_RANK: \(context.rank), MEMBER: \(context.rank + 1)/\(context.worldSize)")
        log.info("LOCAL_RANK: \(context.localRank) - CUDA_VISIBLE_DEVICES: [\(context.visibleGPUs ?? "")]")
        if context.launcher == .slurm { log.info("SLURM auto-requeueing enabled. Setting signal handlers.") }
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
        _ state: RankStatus.State, source: any TileSource, summary: RunSummary?, output: String?, environment: [String: String]
    ) -> RankStatus {
        RankStatus(
            rank: context.rank, worldSize: context.worldSize, attempt: context.restartCount, tileCount: source.count,
            share: context.share(of: source.count), state: state, output: output, summary: summary,
            raster: rasterContext(source), labels: config.labelNames, environment: environment)
    }

    private func rasterContext(_ source: any TileSource) -> RasterContext? {
        guard let raster = (source as? RasterTileSource)?.raster else { return nil }
        return RasterContext(
            imagePath: raster.path, width: raster.width, height: raster.height,
            geotransform: raster.georeference.transform.array, crsWKT: raster.georeference.crsWKT, tileSize: config.tileSize,
            overlap: config.overlap, mergeIoU: config.mergeIoU, merge: config.merge)
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
            log.error("Could not requeue SLURM job \(job): \(error); resubmit it with resume=true")
        }
    }

    private func makeSource() throws -> any TileSource {
        if config.useFakeData {
            log.info(
                "Using dummy data: \(config.dummyCount) random tiles, \(config.dummyDelay) s each (use_fake_data=true)")
            return DummyTileSource(
                count: config.dummyCount, tileSize: config.tileSize, delay: config.dummyDelay, seed: config.seed)
        }
        let missing = MissingPixels(rawValue: config.nodata) ?? .keep
        let source = try RasterTileSource(
            path: config.imagePath, bands: config.bands, tileSize: config.tileSize, overlap: config.overlap,
            missing: missing, skipEmpty: config.skipEmpty)
        let raster = source.raster
        var types: [String] = []
        for type in raster.sampleTypes.map(\.rawValue) where !types.contains(type) { types.append(type) }
        log.info(
            "Raster \(raster.path): \(raster.width)x\(raster.height) px, \(raster.bandCount) bands, reading bands "
                + "\(raster.bands.map(String.init).joined(separator: ",")) (\(types.joined(separator: ", "))), \(raster.driver), "
                + "CRS \(raster.crsName ?? "none"); \(source.grid.columns)x\(source.grid.rows) tiles")
        let declared = Set(raster.nodata.compactMap { $0 })
        if !declared.isEmpty {
            let values = declared.sorted().map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }.joined(separator: ", ")
            log.info(missing == .keep
                ? "Nodata \(values) is read as stored, as the seed does (nodata=zero zeroes the dataset mask's missing pixels)"
                : "Pixels the dataset mask marks missing (nodata \(values)) are read as 0 (nodata=zero)")
        }
        if !raster.georeference.isGeoreferenced {
            log.warning("\(raster.path) has no georeferencing: tile bounds are in pixel coordinates")
        } else if raster.georeference.crsWKT == nil {
            log.warning("\(raster.path) has a geotransform but no CRS: results are in its own units, with no CRS")
        }
        if raster.georeference.crsWKT == nil, let output = config.output, BoxLayerWriter.Format(path: output) == .geojson {
            throw ConfigError.invalidValue(
                key: "output", value: output,
                reason: "GeoJSON is longitude and latitude on WGS84 (RFC 7946), and \(raster.path) has no CRS to get there "
                    + "from: write .gpkg or .csv, in the raster's own units")
        }
        return source
    }
}
