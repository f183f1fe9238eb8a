import Cluster
import Configuration
import Foundation

/// `mgpr key=value ...`: the rank the launcher describes, checked and announced as the
/// seed does, then its ``PredictionRun``.
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
        try checkRank()
        let signals = SignalWatcher(log: log)
        defer { signals.cancel() }
        if context.rank == 0 { Terminal.standardOutput(config.settings.yaml(config.applicableKeys)) }
        announce()
        return try PredictionRun(config: config, context: context, log: log, signals: signals).run()
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
}
