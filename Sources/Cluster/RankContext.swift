import Foundation

/// Who this process is in a multi-process job, read from the launcher's environment:
/// SLURM's srun (SLURM_PROCID, SLURM_NTASKS, ...), torchrun (RANK, WORLD_SIZE, ...), or
/// neither (one rank).
public struct RankContext: Sendable, Equatable {
    public enum Launcher: String, Sendable { case single, slurm, torchrun }

    public var launcher: Launcher
    public var rank: Int
    public var worldSize: Int
    public var localRank: Int
    public var nodeRank: Int
    /// The job's identity shared by all its ranks (SLURM_JOB_ID, torchrun's run id).
    public var jobID: String?
    /// SLURM_RESTART_COUNT (or torchrun's restart count): > 0 when the job was restarted.
    /// All ranks of one attempt share it, which tells rank 0 a fresh status from a stale one.
    public var restartCount: Int
    /// What names this launch of the job, the same for all its ranks and for no other
    /// launch: SLURM's job, step and restart count; torchrun's run id and restart count.
    /// Nil when the launcher gives no id (RANK and WORLD_SIZE set by hand, torchrun's
    /// default run id "none").
    public var launchName: String?
    /// The GPUs the launcher gave this rank (CUDA_VISIBLE_DEVICES), as listed.
    public var visibleGPUs: String?
    /// A SLURM job with several tasks in which this process was not started by srun
    /// (the seed's "if you run the script directly, it won't work").
    public var slurmTasksWithoutSrun: Int?

    public static let single = RankContext(
        launcher: .single, rank: 0, worldSize: 1, localRank: 0, nodeRank: 0, jobID: nil, restartCount: 0,
        visibleGPUs: nil, slurmTasksWithoutSrun: nil)

    public var isDistributed: Bool { worldSize > 1 }

    public static func discover(_ env: [String: String]) -> RankContext {
        func int(_ key: String) -> Int? { env[key].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
        var context = RankContext.single
        context.visibleGPUs = env["CUDA_VISIBLE_DEVICES"]
        context.restartCount = int("SLURM_RESTART_COUNT") ?? int("TORCHELASTIC_RESTART_COUNT") ?? 0
        if let rank = int("SLURM_PROCID"), let world = int("SLURM_NTASKS"), env["SLURM_JOB_ID"] != nil {
            context.jobID = env["SLURM_JOB_ID"]
            // srun sets SLURM_STEP_ID for its tasks; the batch script itself runs in the
            // "batch" step, where SLURM_NTASKS still counts every task of the job.
            let inStep = env["SLURM_STEP_ID"].map { $0 != "batch" && Int($0) != 4_294_967_294 } ?? false
            if world > 1 && !inStep {
                context.launcher = .slurm
                context.slurmTasksWithoutSrun = world
                return context
            }
            context.launcher = .slurm
            context.launchName = "slurm-\(env["SLURM_JOB_ID"]!)-step\(env["SLURM_STEP_ID"] ?? "0")-restart\(context.restartCount)"
            context.rank = rank
            context.worldSize = max(world, 1)
            context.localRank = int("SLURM_LOCALID") ?? 0
            context.nodeRank = int("SLURM_NODEID") ?? 0
            return context
        }
        if let rank = int("RANK"), let world = int("WORLD_SIZE") {
            context.launcher = .torchrun
            context.rank = rank
            context.worldSize = max(world, 1)
            context.localRank = int("LOCAL_RANK") ?? 0
            context.nodeRank = int("GROUP_RANK") ?? int("NODE_RANK") ?? 0
            context.jobID = env["TORCHELASTIC_RUN_ID"]
            if let id = context.jobID, !id.isEmpty, id != "none", !id.contains("/") {
                context.launchName = "torchrun-\(id)-restart\(context.restartCount)"
            }
        }
        return context
    }

    /// More ranks than any job runs: a world size above it is a mistyped variable.
    public static let maxWorldSize = 100_000

    /// The first of the launcher's variables that is set but unusable, with the reason:
    /// not a whole number (`RANK=abc`), or a world size below 1 or above
    /// ``maxWorldSize``. ``discover(_:)`` would pass over it and run one process over
    /// every tile, so a run refuses it instead.
    public static func malformed(_ env: [String: String]) -> (name: String, value: String, reason: String)? {
        let slurm = env["SLURM_JOB_ID"] != nil ? ["SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NODEID"] : []
        for name in slurm + ["RANK", "WORLD_SIZE", "LOCAL_RANK"] {
            guard let value = env[name] else { continue }
            guard let number = Int(value.trimmingCharacters(in: .whitespaces)) else {
                return (name, value, "must be a whole number (the launcher sets it)")
            }
            if ["SLURM_NTASKS", "WORLD_SIZE"].contains(name), !(1...maxWorldSize).contains(number) {
                return (name, value, "a job has 1 to \(maxWorldSize) ranks")
            }
        }
        return nil
    }

    /// This rank's fixed share of `count` tiles: a contiguous block, sizes differing by
    /// at most one, the blocks of all ranks covering 0..<count exactly once.
    public func share(of count: Int) -> Range<Int> { Self.share(of: count, rank: rank, worldSize: worldSize) }

    public static func share(of count: Int, rank: Int, worldSize: Int) -> Range<Int> {
        (rank * count / worldSize)..<((rank + 1) * count / worldSize)
    }

    /// How log lines name this rank ("mgpr" alone when there is one).
    public var logName: String { isDistributed ? "mgpr.rank\(rank)" : "mgpr" }
}
