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
        let result = try TestSupport.run(
            mgpr, ["slurm", "gpus=2", "nodes=3", "cpus=6", "time=02:00:00", "partition=gpu", "gpu_type=a100",
                   "batch_size=8", "image_path=/data/ortho.tif"])
        #expect(result.status == 0, "\(result.stderr)")
        for line in ["#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=2", "#SBATCH --cpus-per-task=6", "#SBATCH --time=02:00:00",
                     "#SBATCH --gpus-per-node=a100:2", "#SBATCH --partition=gpu", "#SBATCH --requeue",
                     "#SBATCH --output=./slurm_logs/%j.out", "srun mgpr gpus=1 batch_size=8 image_path=/data/ortho.tif"] {
            #expect(result.stdout.contains(line + "\n"), "missing: \(line)")
        }
        // The warning fits a batch measured here: twice its time and a minute, at least 120 s.
        for (arguments, atLeast) in [(["batch_size=8"], 120), (["batch_size=64"], 180)] {
            let made = try TestSupport.run(mgpr, ["slurm", "gpus=1"] + arguments)
            let text = made.stdout
            let warning = text.firstMatch(of: /#SBATCH --signal=USR1@(\d+)\n/).map { Int($0.1)! }
            let batch = text.firstMatch(of: /took (\d+\.\d) s on the machine/).map { Double($0.1)! }
            #expect(warning != nil && batch != nil && text.contains("export MGPR_SIGNAL_SECONDS=\(warning ?? 0)"), "\(text)")
            if let warning, let batch {
                #expect(warning >= atLeast && warning >= Int(2 * batch + 60) && warning % 30 == 0, "\(arguments): \(warning) s for \(batch) s")
            }
        }
        let bad = try TestSupport.run(mgpr, ["slurm", "gpus=2", "batchsize=8"])
        #expect(bad.status == 2 && bad.stderr.contains("did you mean 'batch_size'?"))
    }

    @Test("doctor on a plain machine finds nothing wrong and smoke-runs each device")
    func healthy() throws {
        let result = try TestSupport.run(mgpr, ["doctor", "gpus=2", "workers=1"], environment: environment([:]))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("GDAL drivers           GTiff yes"))
        #expect(result.stdout.contains("CPU 0  ") && result.stdout.contains("CPU 1  ") && result.stdout.contains("tiles/s"))
        #expect(result.stdout.contains("No problems found."))
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
