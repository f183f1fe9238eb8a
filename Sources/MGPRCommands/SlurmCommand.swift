import Foundation
import Configuration

/// `mgpr slurm gpus=2 nodes=1 cpus=8 time=02:00:00 partition=gpu [key=value ...]`: prints
/// a job file for these options, as the seed's job.slurm, with requeue and a warning
/// signal before the time limit. Other key=value settings are checked and passed to mgpr.
/// It is written where cluster users write jobs, a login node without GPUs: the devices
/// are checked by the run on the compute nodes, not here.
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
        let log = Log(name: "mgpr.slurm")
        // Each rank needs its readers plus a thread to drive its device; the seed's advice:
        // allow CPUs for the workers of every rank.
        let cpus = slurm["cpus"] ?? "\(config.workers + 2)"
        // The job's devices are the compute nodes', not this machine's: nothing here needs
        // a GPU, or as many cores as the job has ranks. The job names its accelerator, so
        // a node whose CUDA is broken fails instead of running on its CPU.
        let onGPUs = config.accelerator != .cpu
        let accelerator = onGPUs ? "gpu" : "cpu"
        if config.accelerator == .auto {
            log.info("accelerator=auto: the job asks for GPUs and runs with accelerator=gpu (accelerator=cpu for a CPU job)")
        }
        // The warning must leave time for a stop: the batch on each device to finish, the
        // results and the gather.
        let batch = try BatchTime.forJob(config, onGPU: onGPUs)
        let warning = BatchTime.warningSeconds(batchSeconds: batch.seconds)
        let batchLine = String(
            format: "A batch of %@ (%d tiles of %d px) %@ %.1f s", config.model.rawValue, config.batchSize, config.tileSize,
            batch.measured ? "took" : "is taken as", batch.seconds)
        let batchSource = batch.measured
            ? "on the machine that made this file"
            : "(an estimate for a small GPU from the model and tile size: the machine that made this file has no usable GPU to measure it on)"
        if !batch.measured { log.info("\(batchLine) \(batchSource); SLURM's warning comes \(warning) s before the time limit") }
        if config.useFakeData {
            log.warning(
                "no image_path: the job runs on \(config.dummyCount) dummy tiles (dummy_dataset_count), as the seed does; "
                    + "give image_path=RASTER to run on your raster")
        }
        let directory = FileManager.default.currentDirectoryPath
        do {
            try FileManager.default.createDirectory(atPath: "slurm_logs", withIntermediateDirectories: true)
        } catch {
            log.warning("could not create \(directory)/slurm_logs (\(error.localizedDescription)): create it before sbatch, "
                + "or SLURM cannot open the job's log")
        }
        var lines = [
            "#!/bin/bash",
            "# Made by: mgpr slurm \(arguments.joined(separator: " "))",
            "# Submit with: sbatch THIS_FILE (it runs in \(directory), where mgpr slurm made slurm_logs/)",
            "#SBATCH --job-name=\(slurm["job_name"] ?? "mgpr")",
            "#SBATCH --chdir=\(directory)",
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
        let rest = passOn.filter { !["gpus", "devices", "accelerator"].contains(String($0.prefix { $0 != "=" })) }
        lines += [
            "",
            "# One rank per \(onGPUs ? "GPU" : "CPU device") (ntasks-per-node = \(onGPUs ? "GPUs" : "devices") per node); "
                + "srun starts them all. On SIGUSR1,",
            "# \(warning) s before the time limit, mgpr finishes the batch on each device, keeps its work",
            "# and requeues the job, which resumes from its journal in outputs/slurm-<job id>.",
            "# \(batchLine) \(batchSource);",
            "# the warning leaves twice that and a minute. mgpr doctor checks it on the compute node.",
        ]
        if config.useFakeData {
            lines.append("# No image_path: this job runs on \(config.dummyCount) dummy tiles, as the seed does.")
        }
        lines += [
            "export MGPR_SIGNAL_SECONDS=\(warning)  # keep equal to --signal above",
            "srun \(shellQuoted(executablePath())) gpus=1 accelerator=\(accelerator) \(rest.map(shellQuoted).joined(separator: " "))"
                .trimmingTrailingSpace(),
        ]
        Terminal.standardOutput(lines.joined(separator: "\n") + "\n")
        return 0
    }

    /// The mgpr that is writing the job, by an absolute path, so the job runs the same
    /// build whatever PATH the compute node's shell has: the path it was started by
    /// (a venv's `bin/mgpr` stays itself), found on PATH when started by name.
    static func executablePath(
        invoked: String = CommandLine.arguments[0], environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        let manager = FileManager.default
        if invoked.contains("/") {
            return URL(fileURLWithPath: invoked, relativeTo: URL(fileURLWithPath: manager.currentDirectoryPath))
                .standardizedFileURL.path
        }
        for folder in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(folder)/\(invoked)"
            if folder.hasPrefix("/"), manager.isExecutableFile(atPath: candidate) { return candidate }
        }
        return (try? manager.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? invoked
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
