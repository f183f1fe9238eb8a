import Cluster
import Configuration
import CPUBackend
import CUDA
import CUDABackend
import Engine
import Foundation
import Models
import Pipeline
import Platform
import Raster
import Results
import Tiling
import Weights

/// `mgpr doctor [key=value ...]`: the seed's troubleshooting made executable. Reports the
/// machine, the libraries, GDAL's drivers and the SLURM context; flags each known mistake
/// with its explanation and fix; then runs a short smoke run on each device. Exits 1
/// when something is wrong.
struct DoctorCommand {
    let config: RunConfig
    /// `-v`: where each missing library was looked for, and the whole of each CUDA error.
    let verbose: Bool
    let environment = ProcessInfo.processInfo.environment
    private var problems = Problems()

    init(config: RunConfig, verbose: Bool = false) { (self.config, self.verbose) = (config, verbose) }

    /// Whether this machine's GPUs are usable (the driver, cuDNN and NVRTC found, a GPU
    /// seen), or why not. Where they are not, advice about arranging GPUs (tasks per GPU,
    /// visible devices) would contradict the fixes that help: make CUDA usable, or ask
    /// for CPUs.
    let cuda: Result<CUDA, CUDAError> = CUDA.shared

    final class Problems {
        var count = 0
        func flag(_ what: String, why: String, fix: String) {
            count += 1
            Terminal.standardOutput("  PROBLEM: \(what)\n    why: \(why)\n    fix: \(fix)\n")
        }
    }

    func run() throws -> Int32 {
        let context = RankContext.discover(environment)
        section("Machine")
        line("host", ProcessInfo.processInfo.hostName)
        let cores = CPUCores.current(environment: environment)
        line("cores", cores.description)
        line("memory", String(format: "%.1f GB", Double(ProcessMemory.physicalBytes) / 1e9))
        line("mgpr", Main.version)

        section("Libraries")
        line("GDAL", "\(GDALLibrary.version), \(GDALLibrary.driverCount) drivers")
        let drivers = ["GTiff", "COG", "PNG", "JPEG", "VRT", "GPKG", "GeoJSON"]
        line("GDAL drivers", drivers.map { "\($0) \(GDALLibrary.hasDriver($0) ? "yes" : "MISSING")" }.joined(separator: ", "))
        let cpu = CPUBackend(threads: cores.usable)
        line("oneDNN", cpu.description)
        line("bf16", cpu.resolve(.bf16).notice ?? "native (bf16-mixed runs in bfloat16)")
        for library in ["libgdal.so", "libdnnl.so", "libgomp.so"] {
            line(library, Self.loadedPath(library) ?? "not loaded")
        }
        let nvidiaGPUs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/driver/nvidia/gpus"))?.count ?? 0
        line("NVIDIA GPUs", "\(nvidiaGPUs) (from /proc/driver/nvidia/gpus)")
        section("CUDA")
        CUDAReport.lines(cuda, verbose: verbose).forEach { line($0.key, $0.value) }
        for name in drivers where !GDALLibrary.hasDriver(name) && ["GTiff", "VRT"].contains(name) {
            problems.flag("GDAL has no \(name) driver", why: "mgpr reads rasters through GDAL", fix: "install a full GDAL (Debian: libgdal32)")
        }

        section("Launch context")
        line("launcher", context.launcher.rawValue)
        line("rank", "\(context.rank) of \(context.worldSize) (local rank \(context.localRank), node \(context.nodeRank))")
        for key in ["SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "SLURM_CPUS_PER_TASK", "SLURM_JOB_GPUS",
                    "SLURM_STEP_GPUS", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES", "SLURM_RESTART_COUNT"] {
            if let value = environment[key] { line(key, value) }
        }
        checkLaunch(context, nvidiaGPUs: nvidiaGPUs)

        section("This run's inputs")
        checkInputs()

        let devices: Devices
        do {
            devices = try Devices.choose(config, context: context, log: Log(name: "mgpr.doctor", quiet: true))
        } catch {
            problems.flag("no device to run on", why: "\(error)", fix: "install what the line above names, or use accelerator=cpu")
            Terminal.standardOutput("\n\(problems.count) problem\(problems.count == 1 ? "" : "s") found (see PROBLEM above).\n")
            return 1
        }
        section("Smoke run (\(devices.count) \(devices.kind) device\(devices.count == 1 ? "" : "s"), resnet50 seeded, 64 px tiles)")
        try smokeRun(devices)

        if context.launcher == .slurm, config.model != .none { checkWarningTime() }

        if problems.count == 0 {
            Terminal.standardOutput("\nNo problems found.\n")
            return 0
        }
        Terminal.standardOutput("\n\(problems.count) problem\(problems.count == 1 ? "" : "s") found (see PROBLEM above).\n")
        return 1
    }

    private func checkLaunch(_ context: RankContext, nvidiaGPUs: Int) {
        let gpuList = (environment["SLURM_STEP_GPUS"] ?? environment["SLURM_JOB_GPUS"])?.split(separator: ",") ?? []
        let gpusOnNode = Int(environment["SLURM_GPUS_ON_NODE"] ?? "") ?? gpuList.count
        // This build computes on CPUs only: where GPUs were given, the one fix is to ask
        // for CPUs instead (flagged below), so no advice may tell to arrange GPUs.
        let gpusGiven = !gpuList.isEmpty || gpusOnNode > 0 || (environment["CUDA_VISIBLE_DEVICES"].map { !$0.isEmpty } ?? false)
        let gpuAdvice = (try? cuda.get())?.deviceCount ?? 0 > 0
        if gpuAdvice, let perNode = Int((environment["SLURM_NTASKS_PER_NODE"] ?? "").prefix { $0.isNumber }), gpusOnNode > 0,
            perNode != gpusOnNode
        {
            problems.flag(
                "ntasks-per-node is \(perNode) but this node has \(gpusOnNode) GPUs",
                why: "mgpr runs one rank per GPU: with fewer tasks GPUs idle, with more they are shared and runs take up to N times as long",
                fix: "sbatch --ntasks-per-node=\(gpusOnNode) --gpus=\(gpusOnNode) job.slurm (or mgpr slurm gpus=\(gpusOnNode))")
        }
        if let tasks = context.slurmTasksWithoutSrun {
            problems.flag(
                "this job has \(tasks) tasks but mgpr was not started by srun",
                why: "only srun starts one process per task; run directly, one process does the work of \(tasks) and the others never start",
                fix: "start it as `srun mgpr ...` in the job file")
        }
        if let cpus = Int(environment["SLURM_CPUS_PER_TASK"] ?? ""), cpus < config.workers + 1 {
            problems.flag(
                "SLURM_CPUS_PER_TASK is \(cpus), fewer than workers=\(config.workers) readers plus a device thread",
                why: "readers then share cores with the model and the devices wait for data",
                fix: "sbatch --cpus-per-task=\(config.workers + 1), or workers=\(max(cpus - 1, 0))")
        }
        if gpuAdvice, let visible = environment["CUDA_VISIBLE_DEVICES"] {
            let shown = visible.split(separator: ",").filter { !$0.isEmpty }.count
            let given = gpuList.isEmpty ? nvidiaGPUs : gpuList.count
            if shown < given {
                problems.flag(
                    "CUDA_VISIBLE_DEVICES=\(visible) shows \(shown) of the \(given) GPUs \(gpuList.isEmpty ? "on this machine" : "SLURM gave this job")",
                    why: "a GPU that is hidden is paid for but never used",
                    fix: "unset CUDA_VISIBLE_DEVICES in the job file and let SLURM set it")
            }
        }
        let unusable: String? = switch cuda {
        case .success(let c) where c.deviceCount > 0: nil
        case .success: "the NVIDIA driver reports no GPU\(CUDA.visibleDevicesNote)"
        case .failure(let error): verbose ? error.description : error.brief
        }
        if gpusGiven, let unusable {
            problems.flag(
                "this rank was given GPUs, but no NVIDIA GPU is usable here",
                why: unusable,
                fix: "install what is named above (the NVIDIA driver, cuDNN 9), or request CPUs only (mgpr slurm accelerator=cpu ...)")
        } else if config.accelerator == .gpu, let unusable {
            problems.flag(
                "accelerator=gpu but this rank has no usable GPU",
                why: unusable,
                fix: "request GPUs (sbatch --gpus=N) and install what is named above, or use accelerator=cpu")
        }
    }

    /// What a run with these keys would open: the raster, the weights in the model, the
    /// output file and run directory; each failure flagged with the run's own error.
    private func checkInputs() {
        var tileShape = TileShape(channels: config.bands.count, height: config.tileSize, width: config.tileSize)
        if config.useFakeData {
            line("input", "dummy tiles (use_fake_data=true)")
        } else {
            do {
                let source = try RasterTileSource(
                    path: config.imagePath, bands: config.bands, tileSize: config.tileSize, overlap: config.overlap, layout: config.tiling)
                tileShape = source.tileShape
                line("raster", "\(config.imagePath): \(source.raster.width)x\(source.raster.height) px, "
                    + "\(source.grid.count) tiles of \(config.tileSize) px")
            } catch {
                problems.flag("image_path=\(config.imagePath) cannot be read", why: "\(SystemError.reason(error))",
                              fix: "give a raster GDAL opens (gdalinfo \(config.imagePath) shows why not)")
            }
        }
        do {
            var modelOnly = config
            modelOnly.output = nil  // checked on its own below
            let devices = try Devices.choose(modelOnly, context: RankContext.discover(environment), log: Log(name: "mgpr.doctor", quiet: true))
            _ = try ModelSetup.check(modelOnly, tileShape: tileShape, devices: devices, log: Log(name: "mgpr.doctor"))
            line("model", "\(config.model.rawValue), weights \(config.weights ?? "seeded (timing only)"): they load into the model")
        } catch {
            // Only a configuration error names a key; the others name a file or a device.
            let fix = error is ConfigError ? "change the key the reason names (mgpr --help lists them)"
                : error is WeightsError ? "give weights= a file the reason does not fault (the README's Real weights says where to get them)"
                : "fix what the reason says, then run mgpr doctor again"
            problems.flag("model=\(config.model.rawValue) cannot run with these settings", why: "\(SystemError.reason(error))", fix: fix)
        }
        if let output = config.output, output.lowercased() != "none" {
            if let problem = ResultsTarget.problem(writingFile: output) {
                problems.flag("output=\(output) cannot be written", why: problem, fix: "choose a writable file path")
            } else {
                line("output", "\(output): writable")
            }
        }
        if let runDir = config.runDir, let problem = ResultsTarget.problem(creatingIn: runDir) {
            problems.flag("run_dir=\(runDir) cannot be written", why: problem, fix: "choose a writable folder")
        }
    }

    /// Under SLURM: whether the warning signal (job.slurm's MGPR_SIGNAL_SECONDS, else
    /// the seed's 120 s) leaves a stop the time it needs on this node.
    private func checkWarningTime() {
        section("Stopping in time")
        guard let batch = try? BatchTime.estimate(config) else { return }  // the model's problem is flagged above
        let warning = Int(environment["MGPR_SIGNAL_SECONDS"] ?? "") ?? 120
        let needed = BatchTime.warningSeconds(batchSeconds: batch)
        line("batch", String(format: "%.1f s for %d tiles of %@ here; SLURM warns %d s before the time limit", batch,
                             config.batchSize, config.model.rawValue, warning))
        if needed > warning {
            problems.flag(
                String(format: "a batch takes %.0f s here, too long for the %d s between SLURM's warning and the time limit", batch, warning),
                why: "on the warning mgpr finishes the batch on each device, then writes its results: a stop cut off by the limit redoes that batch",
                fix: "sbatch --signal=USR1@\(needed) (and MGPR_SIGNAL_SECONDS=\(needed) in the job file; mgpr slurm writes both), or a smaller batch_size")
        }
    }

    private func smokeRun(_ devices: Devices) throws {
        let source = DummyTileSource(count: 8 * devices.count, tileSize: 64, delay: 0, seed: config.seed)
        let weights = Models.ResNet50.seededWeights(seed: config.seed)
        let loader = try Loader(source: source, batchSize: 2, workers: min(config.workers, 2), consumers: devices.count)
        let run = InferenceRun(
            loader: loader, devices: devices.count, deviceName: { [backends = devices.backends] in backends[$0].deviceName },
            makeModel: { device in
                ClassifierTileModel(
                    backend: devices.backends[device], weights: weights, precision: devices.precision, classes: 1000,
                    normalization: Models.ResNet50.preprocessing,
                    graph: { Models.ResNet50.graph(batch: $0, height: $1, width: $2, classes: 1000) })
            },
            recorder: try RunRecorder(metricsPath: nil), progress: nil)
        let summary = try run.run()
        for device in summary.devices {
            line(device.name, String(format: "%.1f tiles/s (%d tiles)", device.tilesPerSecond, device.tiles))
        }
        if summary.tiles != source.count {
            problems.flag("the smoke run did \(summary.tiles) of \(source.count) tiles", why: "a device failed", fix: "see the error above")
        }
    }

    private func section(_ title: String) { Terminal.standardOutput("\n\(title)\n") }
    private func line(_ key: String, _ value: String) {
        Terminal.standardOutput("  \(key.padding(toLength: 22, withPad: " ", startingAt: 0)) \(value)\n")
    }

    /// Where a shared library this process loaded lives (from /proc/self/maps).
    /// Where the process loaded `library` ("libgdal.so") from, by /proc/self/maps; a copy
    /// renamed with a hash, as wheels ship them ("libgdal-c8c9c467.so.36"), counts too.
    static func loadedPath(_ library: String) -> String? {
        let stem = library.hasSuffix(".so") ? String(library.dropLast(3)) : library
        // /proc files report size 0, so read to the end rather than by size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps") else { return nil }
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return maps.split(separator: "\n").lazy.compactMap { line -> String? in
            guard let path = line.split(separator: " ", omittingEmptySubsequences: true).last, path.hasPrefix("/"),
                let file = path.split(separator: "/").last,
                file.hasPrefix(stem + ".so") || (file.hasPrefix(stem + "-") && file.contains(".so"))
            else { return nil }
            return String(path)
        }.first
    }
}
