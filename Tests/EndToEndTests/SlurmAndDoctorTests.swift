import Foundation
import Testing
import TestSupport

@Suite("mgpr slurm and mgpr doctor")
struct SlurmAndDoctorTests {
    let mgpr = TestSupport.product("mgpr")

    /// The environment without any launcher's variables, plus `extra`.
    func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("SLURM_") && !["RANK", "WORLD_SIZE", "LOCAL_RANK", "CUDA_VISIBLE_DEVICES"].contains($0.key)
        }
        env.merge(extra) { $1 }
        return env
    }

    @Test("mgpr slurm prints a job file for the options, one task per GPU, requeue and a warning signal")
    func jobFile() throws {
        let directory = try TestSupport.temporaryDirectory()
        let result = try TestSupport.run(
            mgpr, ["slurm", "gpus=2", "nodes=3", "cpus=6", "time=02:00:00", "partition=gpu", "gpu_type=a100",
                   "batch_size=8", "image_path=/data/ortho.tif"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        for line in ["#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=2", "#SBATCH --cpus-per-task=6", "#SBATCH --time=02:00:00",
                     "#SBATCH --gpus-per-node=a100:2", "#SBATCH --partition=gpu", "#SBATCH --requeue",
                     "#SBATCH --chdir=\(directory.path)", "#SBATCH --output=./slurm_logs/%j.out",
                     "srun \(mgpr) gpus=1 accelerator=gpu batch_size=8 image_path=/data/ortho.tif"] {
            #expect(result.stdout.contains(line + "\n"), "missing: \(line)")
        }
        // SLURM cannot open the job's log in a folder that does not exist.
        var isFolder: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("slurm_logs").path, isDirectory: &isFolder)
            && isFolder.boolValue)
        #expect(!result.stdout.contains("dummy tiles") && !result.stderr.contains("no image_path"))
        // The warning fits a batch measured here (on the CPU, which this machine has): twice its
        // time and a minute, at least 120 s.
        for (arguments, atLeast) in [(["batch_size=8"], 120), (["batch_size=64"], 180)] {
            let made = try TestSupport.run(mgpr, ["slurm", "gpus=1", "accelerator=cpu", "image_path=x.tif"] + arguments, in: directory)
            let text = made.stdout
            let warning = text.firstMatch(of: /#SBATCH --signal=USR1@(\d+)\n/).map { Int($0.1)! }
            let batch = text.firstMatch(of: /took (\d+\.\d) s on the machine/).map { Double($0.1)! }
            #expect(warning != nil && batch != nil && text.contains("export MGPR_SIGNAL_SECONDS=\(warning ?? 0)"), "\(text)")
            if let warning, let batch {
                #expect(warning >= atLeast && warning >= Int(2 * batch + 60) && warning % 30 == 0, "\(arguments): \(warning) s for \(batch) s")
            }
            #expect(text.contains("srun \(mgpr) gpus=1 accelerator=cpu image_path=x.tif") && !text.contains("--gpus-per-node"))
        }
        let bad = try TestSupport.run(mgpr, ["slurm", "gpus=2", "batchsize=8"], in: directory)
        #expect(bad.status == 2 && bad.stderr.contains("did you mean 'batch_size'?"))
    }

    @Test("mgpr slurm writes a GPU job on a machine without GPUs or enough cores: the devices are the compute nodes'")
    func jobFileFromLoginNode() throws {
        let directory = try TestSupport.temporaryDirectory()
        let gpu = try TestSupport.run(mgpr, ["slurm", "accelerator=gpu", "gpus=4", "nodes=2"], in: directory, environment: environment([:]))
        #expect(gpu.status == 0, "\(gpu.stderr)")
        for line in ["#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-node=4", "srun \(mgpr) gpus=1 accelerator=gpu"] {
            #expect(gpu.stdout.contains(line + "\n"), "missing: \(line)\n\(gpu.stdout)")
        }
        if RanksTests.gpus.count == 0 {
            // Not measured: the estimate for a small GPU (Faster R-CNN, 16 tiles of 1024 px at 0.1 s each).
            #expect(gpu.stdout.contains("# A batch of fasterrcnn (16 tiles of 1024 px) is taken as 1.6 s (an estimate"), "\(gpu.stdout)")
            #expect(gpu.stdout.contains("#SBATCH --signal=USR1@120\n"))
            #expect(gpu.stderr.contains("is taken as 1.6 s") && gpu.stderr.contains("SLURM's warning comes 120 s before the time limit"))
        }
        // No image_path: the seed's dummy tiles, said in the log and in the file.
        #expect(gpu.stderr.contains("WARNING] - no image_path: the job runs on 10000 dummy tiles"), "\(gpu.stderr)")
        #expect(gpu.stdout.contains("# No image_path: this job runs on 10000 dummy tiles"))
        // accelerator=auto asks for GPUs, so the job says accelerator=gpu: a node whose CUDA is broken fails.
        let auto = try TestSupport.run(mgpr, ["slurm", "gpus=2", "image_path=x.tif", "model=resnet50"], in: directory)
        #expect(auto.status == 0 && auto.stdout.contains("srun \(mgpr) gpus=1 accelerator=gpu image_path=x.tif model=resnet50\n"), "\(auto.stdout)")
        #expect(auto.stdout.contains("# A batch of resnet50 (16 tiles of 1024 px)"))
        // More CPU devices than this machine has cores: each rank runs one, measured here.
        let cpu = try TestSupport.run(
            mgpr, ["slurm", "accelerator=cpu", "gpus=\(ProcessInfo.processInfo.activeProcessorCount + 2)", "model=resnet50",
                   "tile_size=64", "image_path=x.tif"], in: directory)
        #expect(cpu.status == 0, "\(cpu.stderr)")
        #expect(cpu.stdout.contains("#SBATCH --ntasks-per-node=\(ProcessInfo.processInfo.activeProcessorCount + 2)\n"))
        #expect(cpu.stdout.contains("took") && !cpu.stdout.contains("--gpus-per-node"), "\(cpu.stdout)")
    }

    @Test("the job file runs the mgpr that wrote it, by an absolute path")
    func executablePath() throws {
        let directory = try TestSupport.temporaryDirectory()
        let link = directory.appendingPathComponent("bin/mgpr")
        try FileManager.default.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: mgpr)
        // Started by name from PATH (as from a venv's bin/): that folder's mgpr, not the link's target.
        var env = environment([:])
        env["PATH"] = "\(link.deletingLastPathComponent().path):/usr/bin:/bin"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["mgpr", "slurm", "accelerator=gpu", "image_path=x.tif"]
        process.environment = env
        process.currentDirectoryURL = directory
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.contains("srun \(link.path) gpus=1 accelerator=gpu image_path=x.tif\n"), "\(text)")
        // Started by a relative path: made absolute.
        let relative = try TestSupport.run(link.path, ["slurm", "accelerator=gpu", "image_path=x.tif"], in: directory)
        #expect(relative.stdout.contains("srun \(link.path) gpus=1"))
    }

    @Test("doctor on a plain machine finds nothing wrong and smoke-runs each device")
    func healthy() throws {
        let result = try TestSupport.run(mgpr, ["doctor", "gpus=2", "workers=1"], environment: environment([:]))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("GDAL drivers           GTiff yes"))
        #expect(result.stdout.contains("CPU 0  ") && result.stdout.contains("CPU 1  ") && result.stdout.contains("tiles/s"))
        #expect(result.stdout.contains("No problems found."))
        // Where each missing library was looked for is -v's to say; without it, one word.
        let cudaLines = result.stdout.split(separator: "\n").filter { $0.contains("MISSING") }
        #expect(cudaLines.allSatisfy { $0.count < 80 && !$0.contains("tried") }, "\(cudaLines)")
        if !cudaLines.isEmpty {
            let verbose = try TestSupport.run(mgpr, ["doctor", "-v", "workers=1"], environment: environment([:]))
            #expect(verbose.status == 0 && verbose.stdout.contains("MISSING: ") && verbose.stdout.contains("; tried "), "\(verbose.stdout)")
        }
    }

    @Test("doctor flags the seed's SLURM mistakes, each with why and a fix, and exits 1")
    func slurmMistakes() throws {
        let cases: [([String: String], String)] = [
            (["SLURM_JOB_ID": "7", "SLURM_PROCID": "0", "SLURM_NTASKS": "2"], "this job has 2 tasks but mgpr was not started by srun"),
            (["SLURM_JOB_ID": "7", "SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_STEP_ID": "0", "SLURM_NTASKS_PER_NODE": "1",
              "SLURM_GPUS_ON_NODE": "2", "SLURM_JOB_GPUS": "0,1", "CUDA_VISIBLE_DEVICES": "0,1"],
             "this rank was given GPUs, but no NVIDIA GPU is usable here"),
            (["SLURM_JOB_ID": "7", "SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_STEP_ID": "0", "SLURM_CPUS_PER_TASK": "2"],
             "SLURM_CPUS_PER_TASK is 2, fewer than workers=8"),
            (["SLURM_JOB_GPUS": "0,1", "CUDA_VISIBLE_DEVICES": "0"], "this rank was given GPUs, but no NVIDIA GPU is usable here"),
        ]
        for (env, problem) in cases {
            let result = try TestSupport.run(mgpr, ["doctor", "workers=8"], environment: environment(env))
            #expect(result.status == 1, "\(env)")
            #expect(result.stdout.contains("PROBLEM: \(problem)"), "\(env): \(result.stdout)")
            #expect(result.stdout.contains("    fix: "))
            // No fix contradicts another: where no GPU is usable, none advises arranging GPUs.
            let fixes = result.stdout.split(separator: "\n").filter { $0.contains("fix: ") }
            #expect(!fixes.contains { $0.contains("--gpus=") || $0.contains("CUDA_VISIBLE_DEVICES") }, "\(fixes)")
        }
    }

    @Test("under SLURM, doctor says when a batch takes longer than the warning before the time limit leaves")
    func warningTime() throws {
        let slurm = ["SLURM_JOB_ID": "7", "SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_STEP_ID": "0"]
        let short = try TestSupport.run(
            mgpr, ["doctor", "workers=1", "batch_size=64"], environment: environment(slurm.merging(["MGPR_SIGNAL_SECONDS": "120"]) { $1 }))
        #expect(short.status == 1 && short.stdout.contains("too long for the 120 s between SLURM's warning and the time limit"),
                "\(short.stdout)")
        #expect(short.stdout.contains("fix: sbatch --signal=USR1@"), "\(short.stdout)")
        let ample = try TestSupport.run(
            mgpr, ["doctor", "workers=1", "model=resnet50", "tile_size=64", "batch_size=4"],
            environment: environment(slurm.merging(["MGPR_SIGNAL_SECONDS": "600"]) { $1 }))
        #expect(ample.status == 0 && ample.stdout.contains("SLURM warns 600 s before the time limit"), "\(ample.stdout)")
    }

    @Test("doctor checks what the run would use: the raster, the weights in the model, the output")
    func runInputs() throws {
        let directory = try TestSupport.temporaryDirectory()
        let good = try TestSupport.run(
            mgpr, ["doctor", "workers=1", "image_path=\(try TestSupport.neonCrop)", "tile_size=200", "model=resnet50",
                   "output=\(directory.path)/classes.csv"], environment: environment([:]))
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("400x400 px, 4 tiles of 200 px") && good.stdout.contains("classes.csv: writable"), "\(good.stdout)")
        let bad = try TestSupport.run(
            mgpr, ["doctor", "workers=1", "image_path=\(directory.path)/none.tif", "model=resnet50", "weights=\(directory.path)/w.pth",
                   "output=\(directory.path)"], environment: environment([:]))
        #expect(bad.status == 1)
        for problem in ["PROBLEM: image_path=\(directory.path)/none.tif cannot be read",
                        "PROBLEM: model=resnet50 cannot run with these settings", "PROBLEM: output=\(directory.path) cannot be written"] {
            #expect(bad.stdout.contains(problem), "\(problem): \(bad.stdout)")
        }
    }
}
