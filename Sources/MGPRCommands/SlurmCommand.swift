import Foundation
import Configuration

/// `mgpr slurm gpus=2 nodes=1 cpus=8 time=02:00:00 partition=gpu [key=value ...]`: prints
/// a job file for these options, as the seed's job.slurm, with requeue and a warning
/// signal before the time limit. Other key=value settings are checked and passed to mgpr.
struct SlurmCommand {
    /// Keys that shape the allocation rather than the run.
    static let slurmKeys = ["nodes", "cpus", "time", "partition", "gpu_type", "job_name"]

    static func run(_ arguments: [String]) throws -> Int32 {
        var slurm: [String: String] = [:]
        var passOn: [String] = []
        for argument in arguments {
            let key = String(argument.prefix { $0 != "=" })
            if slurmKeys.contains(key), argument.contains("=") {
                slurm[key] = String(argument.dropFirst(key.count + 1))
            } else {
                passOn.append(argument)
            }
        }
        let config = try Invocation(arguments: passOn).config  // checks every other key
        let gpus = config.devices
        let nodes = Int(slurm["nodes"] ?? "1") ?? 0
        guard nodes > 0 else { throw ConfigError.invalidValue(key: "nodes", value: slurm["nodes"]!, reason: "must be > 0") }
        // Each rank needs its readers plus a thread to drive its device; the seed's advice:
        // allow CPUs for the workers of every rank.
        let cpus = slurm["cpus"] ?? "\(config.workers + 2)"
        let onGPUs = config.accelerator != .cpu
        // The warning must leave time for a stop: the batch on each device to finish, the
        // results and the gather. A batch is measured here, on this machine.
        let batchSeconds = try BatchTime.estimate(config)
        let warning = BatchTime.warningSeconds(batchSeconds: batchSeconds)
        var lines = [
            "#!/bin/bash",
            "# Made by: mgpr slurm \(arguments.joined(separator: " "))",
            "# Submit with: mkdir -p slurm_logs && sbatch THIS_FILE",
            "#SBATCH --job-name=\(slurm["job_name"] ?? "mgpr")",
            "#SBATCH --output=./slurm_logs/%j.out",
            "#SBATCH --open-mode=append",
            "#SBATCH --requeue",
            "#SBATCH --signal=USR1@\(warning)",
            "#SBATCH --time=\(slurm["time"] ?? "01:00:00")",
            "#SBATCH --nodes=\(nodes)",
            "#SBATCH --ntasks-per-node=\(gpus)",
            "#SBATCH --cpus-per-task=\(cpus)",
        ]
        if onGPUs { lines.append("#SBATCH --gpus-per-node=\(slurm["gpu_type"].map { "\($0):" } ?? "")\(gpus)") }
        if let partition = slurm["partition"] { lines.append("#SBATCH --partition=\(partition)") }
        let rest = passOn.filter { !$0.hasPrefix("gpus=") && !$0.hasPrefix("devices=") }
        lines += [
            "",
            "# One rank per GPU (ntasks-per-node = GPUs per node); srun starts them all. On SIGUSR1,",
            "# \(warning) s before the time limit, mgpr finishes the batch on each device, keeps its work",
            "# and requeues the job, which resumes from its journal in outputs/slurm-<job id>.",
            String(format: "# A batch of %@ (%d tiles of %d px) took %.1f s on the machine that made this file;", config.model.rawValue,
                   config.batchSize, config.tileSize, batchSeconds),
            "# the warning leaves twice that and a minute. mgpr doctor checks it on the compute node.",
            "export MGPR_SIGNAL_SECONDS=\(warning)  # keep equal to --signal above",
            "srun mgpr gpus=1 \(rest.map(shellQuoted).joined(separator: " "))".trimmingTrailingSpace(),
        ]
        Terminal.standardOutput(lines.joined(separator: "\n") + "\n")
        return 0
    }

    static func shellQuoted(_ text: String) -> String {
        text.allSatisfy { $0.isLetter || $0.isNumber || "=_-./:,[]".contains($0) }
            ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension String {
    fileprivate func trimmingTrailingSpace() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
