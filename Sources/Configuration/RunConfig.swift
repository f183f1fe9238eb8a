import Foundation
import Tiling
import Weights

/// The checked, typed configuration of one run.
public struct RunConfig: Sendable, Equatable {
    public enum Accelerator: String, Sendable { case auto, cpu, gpu }
    /// `nodata`: what reads do with the pixels the dataset mask marks missing.
    public enum Nodata: String, Sendable { case keep, zero }
    /// `profiler`: what is said at the end of where the time went.
    public enum Profiler: String, Sendable { case simple }

    public var useFakeData: Bool
    public var imagePath: String
    public var tileSize: Int
    public var overlap: Int
    /// How tiles are placed: the seed's even spread, or DeepForest's fixed stride.
    public var tiling: TileLayout
    public var bands: [Int]
    public var nodata: Nodata
    /// Tiles holding no data (all missing, or one value in every band) are left out.
    public var skipEmpty: Bool
    public var dummyCount: Int
    public var dummyDelay: Double
    public var batchSize: Int
    public var workers: Int
    public var prefetch: Int
    /// Bytes of batches the loader may hold at most.
    public var loaderMemoryBytes: Int
    public var accelerator: Accelerator
    public var devices: Int
    public var precision: PrecisionName
    public var model: ModelName
    /// Class names by label index, from the weights' folder (DeepForest's label_dict).
    public var labelNames: [String]?
    /// How boxes from different tiles are merged.
    public var merge: MergeMode
    public var weights: String?
    public var output: String?
    /// CPU threads for the model; 0 means the cores this process may use.
    public var cpuThreads: Int
    public var tf32: Bool
    /// Device threads per GPU (`gpu_lanes`).
    public var gpuLanes: Int
    public var scoreThreshold: Double
    public var nmsThreshold: Double
    public var detectionsPerTile: Int
    public var minSize: Int
    public var maxSize: Int
    public var bnEps: Double
    public var mergeIoU: Double
    public var imagesPerPass: Int
    public var seed: UInt64
    public var runDir: String?
    public var resume: Bool
    /// Replace an existing results file, or a run in run_dir, instead of refusing.
    public var overwrite: Bool
    public var gatherTimeout: Double
    /// `share`; nil: claim for several ranks, static for one, and on a resume what the run recorded.
    public var share: ShareMode?
    public var claimLease: Double
    /// `mean` and `std`: a segmentation model's input normalisation, per band; nil: ImageNet's.
    public var mean: [Double]?
    /// A segmentation's `stitch` and `probabilities`.
    public var stitch: Stitch
    public var probabilities: ProbabilityOutput
    public var std: [Double]?
    public var logInterval: Int
    /// Seconds without a progress line after which one is printed anyway (0: never).
    public var logIntervalSeconds: Double
    public var profiler: Profiler?
    public var imageSize: Int
    public var testImageCRS: String
    public var testImageOrigin: (x: Double, y: Double)
    public var testImagePixelSize: Double
    /// The settings this was built from, for printing and saving.
    public var settings: Settings

    /// Checks what no single key can check alone.
    public init(_ given: Settings) throws(ConfigError) {
        var settings = given
        // Giving an image means reading it, unless the user said otherwise.
        if settings.explicit.contains("image_path") && !settings.explicit.contains("use_fake_data") {
            settings.resolve("use_fake_data", .bool(false))
        }
        // Defaults derived from other keys, weakest first; a key given is never changed.
        // DeepForest's own config wins over its model folder's (as its predict_tile runs).
        func derive(_ values: [String: ConfigValue]) {
            for (key, value) in values where !settings.explicit.contains(key) { settings.resolve(key, value) }
        }
        let preset = settings["preset"] == .string("deepforest")
        if preset { derive(["model": .string("retinanet")]) }
        let model = settings["model"].stringValue.flatMap(ModelName.init(rawValue:)) ?? .fasterrcnn
        derive(model.defaults)
        var folder: ModelFolderConfig?
        var weightsPath: String?
        if case .string(let given) = settings["weights"] {
            let weights = try HuggingFaceCache.resolve(weights: given, env: ProcessInfo.processInfo.environment)
            weightsPath = weights
            if COCOWeights.contains(weights) { derive(["bn_eps": .double(0)]) }
            folder = try ModelFolderConfig.read(weights: weights)
            derive(folder.map { f in
                var values: [String: ConfigValue] = [:]
                if let score = f.scoreThreshold { values["score_threshold"] = .double(score) }
                if let nms = f.nmsThreshold { values["nms_threshold"] = .double(nms) }
                return values
            } ?? [:])
        }
        if preset {
            // DeepForest's predict_tile: its windows, float32 (Lightning's 32-true), its
            // thresholds and its one NMS over the mosaic.
            derive([
                "tile_size": .int(400), "patch_overlap": .double(0.05), "tiling": .string("stride"), "precision": .string("32"),
                "tf32": .bool(false), "score_threshold": .double(0.1), "nms_threshold": .double(0.05), "merge": .string("mosaic"),
                "merge_iou": .double(0.15),
            ])
        }
        // DeepForest's overlap is a fraction of the window: floor(patch_size * patch_overlap) pixels.
        if case .double(let fraction) = settings["patch_overlap"] {
            if settings.explicit.contains("overlap") && settings.explicit.contains("patch_overlap") {
                throw .invalidValue(key: "patch_overlap", value: "\(fraction)",
                    reason: "give overlap (pixels) or patch_overlap (a fraction of tile_size), not both")
            }
            if !settings.explicit.contains("overlap"), case .int(let tile) = settings["tile_size"] {
                settings.resolve("overlap", .int(Int((Double(tile) * fraction).rounded(.down))))
            }
        }
        // Names given win; then the weights' own: a model folder's config.json, a
        // checkpoint's label_dict (DeepForest's .ckpt), torchvision's COCO files.
        if case .list(let given) = settings["label_names"] {
            labelNames = given.compactMap(\.stringValue)
        } else {
            labelNames = folder?.labelNames ?? weightsPath.flatMap {
                CheckpointLabels.names(in: $0) ?? (COCOWeights.contains($0) ? COCOWeights.categories : nil)
            }
        }
        self.settings = settings
        func int(_ k: String) -> Int { if case .int(let v) = settings[k] { v } else { 0 } }
        func double(_ k: String) -> Double { if case .double(let v) = settings[k] { v } else { 0 } }
        func string(_ k: String) -> String? { if case .string(let v) = settings[k] { v } else { nil } }
        func bool(_ k: String) -> Bool { if case .bool(let v) = settings[k] { v } else { false } }
        func list(_ k: String) -> [ConfigValue] { if case .list(let v) = settings[k] { v } else { [] } }
        func numbers(_ k: String) -> [Double]? {
            guard case .list(let v) = settings[k] else { return nil }
            return v.compactMap { if case .double(let d) = $0 { d } else { nil } }
        }

        imagePath = string("image_path") ?? ""
        useFakeData = bool("use_fake_data")
        tileSize = int("tile_size")
        overlap = int("overlap")
        tiling = string("tiling").flatMap(TileLayout.init(rawValue:)) ?? .spread
        bands = list("bands").compactMap { if case .int(let b) = $0 { b } else { nil } }
        nodata = string("nodata").flatMap(Nodata.init(rawValue:)) ?? .keep
        skipEmpty = bool("skip_empty")
        dummyCount = int("dummy_dataset_count")
        dummyDelay = double("dummy_dataset_delay")
        batchSize = int("batch_size")
        workers = int("workers")
        prefetch = int("prefetch")
        loaderMemoryBytes = int("loader_memory_mb") << 20
        accelerator = string("accelerator") == "cuda" ? .gpu : Accelerator(rawValue: string("accelerator") ?? "") ?? .auto
        devices = int("gpus")
        precision = string("precision").flatMap(PrecisionName.init(rawValue:)) ?? .f16Mixed
        self.model = model
        merge = string("merge").flatMap(MergeMode.init(rawValue:)) ?? .seams
        weights = weightsPath
        output = string("output")
        cpuThreads = int("cpu_threads")
        tf32 = bool("tf32")
        gpuLanes = int("gpu_lanes")
        scoreThreshold = double("score_threshold")
        nmsThreshold = double("nms_threshold")
        detectionsPerTile = int("detections_per_tile")
        minSize = int("min_size")
        maxSize = int("max_size")
        bnEps = double("bn_eps")
        mergeIoU = double("merge_iou")
        imagesPerPass = int("images_per_pass")
        seed = UInt64(int("seed"))
        runDir = string("run_dir")
        resume = bool("resume")
        overwrite = bool("overwrite")
        gatherTimeout = double("gather_timeout")
        share = string("share").flatMap(ShareMode.init(rawValue:))
        claimLease = double("claim_lease")
        mean = numbers("mean")
        stitch = string("stitch").flatMap(Stitch.init(rawValue:)) ?? .center
        probabilities = string("probabilities").flatMap(ProbabilityOutput.init(setting:)) ?? .none
        std = numbers("std")
        logInterval = int("log_interval")
        logIntervalSeconds = double("log_interval_s")
        profiler = string("profiler").flatMap(Profiler.init(rawValue:))
        imageSize = int("image_size")
        testImageCRS = string("test_image_crs") ?? ""
        let origin = list("test_image_origin").compactMap { if case .double(let v) = $0 { v } else { nil } }
        testImageOrigin = (origin.first ?? 0, origin.last ?? 0)
        testImagePixelSize = double("test_image_pixel_size")

        // A segmentation's keys changed for another task would silently do nothing.
        if model.task != .segmentation, model != .none {
            for key in ["stitch", "probabilities", "mean", "std"] where settings[key] != ConfigSchema.key(named: key)?.defaultValue {
                throw .invalidValue(
                    key: key, value: { if case .string(let s) = settings[key] { s } else { settings[key].yaml } }(), reason: "applies to segmentation models "
                        + "(\(ModelName.allCases.filter { $0.task == .segmentation }.map(\.rawValue).joined(separator: ", "))), not \(model.rawValue)")
            }
        }
        // Each reader is a thread with its own file handle and prefetched batches, and each
        // CPU thread an OpenMP worker: far past the cores they only cost memory, and a
        // mistyped count would start thousands of threads that never make progress.
        guard workers <= Self.maxWorkers else {
            throw .invalidValue(key: "workers", value: "\(workers)",
                reason: "at most \(Self.maxWorkers) reader threads; a few per core keep any device fed")
        }
        guard cpuThreads <= Self.maxCPUThreads else {
            throw .invalidValue(key: "cpu_threads", value: "\(cpuThreads)",
                reason: "at most \(Self.maxCPUThreads); 0 takes the cores this process may use")
        }
        guard overlap < tileSize else {
            throw .invalidValue(key: "overlap", value: "\(overlap)",
                reason: "must be smaller than tile_size (\(tileSize)); tiles would never advance")
        }
        guard precision.compute != nil else {
            throw .invalidValue(key: "precision", value: precision.rawValue,
                reason: "mgpr computes in 32 or 16 bits: use 32, bf16-mixed or 16-mixed")
        }
        if preset, model != .retinanet {
            throw .invalidValue(key: "model", value: model.rawValue,
                reason: "preset=deepforest runs DeepForest's RetinaNet models: leave model out or set model=retinanet")
        }
        guard testImagePixelSize > 0 else {
            throw .invalidValue(key: "test_image_pixel_size", value: "\(testImagePixelSize)", reason: "must be > 0")
        }
        if !useFakeData && imagePath.isEmpty {
            throw .invalidValue(key: "image_path", value: "''", reason: "give a raster to read, or use_fake_data=true")
        }
    }

    public static let maxWorkers = 256
    public static let maxCPUThreads = 1024

    public static func == (a: RunConfig, b: RunConfig) -> Bool { a.settings == b.settings }

    /// The keys that bear on this run, as a run prints them: no dummy-data keys when a
    /// raster is read and no raster keys for dummy tiles, no detector keys for a
    /// classifier, no GPU key on the CPU, no test-image keys (`--cfg job` shows every key).
    public var applicableKeys: [ConfigKey] {
        var left = Set(["image_size", "test_image_crs", "test_image_origin", "test_image_pixel_size"])
        left.formUnion(useFakeData ? ["image_path", "overlap", "patch_overlap", "tiling", "bands", "nodata", "skip_empty"]
                                   : ["dummy_dataset_count", "dummy_dataset_delay"])
        if settings["patch_overlap"] == .null { left.insert("patch_overlap") }
        if settings["label_names"] == .null { left.insert("label_names") }
        if model.task != .detection {
            left.formUnion(["preset", "score_threshold", "nms_threshold", "detections_per_tile", "min_size", "max_size", "bn_eps",
                            "images_per_pass", "merge", "merge_iou"])
        }
        if model.task != .segmentation { left.formUnion(["mean", "std", "stitch", "probabilities"]) }
        if model == .none { left.formUnion(["weights", "precision", "cpu_threads", "tf32", "output"]) }
        if accelerator == .cpu { left.insert("tf32") }
        return ConfigSchema.runKeys.filter { !left.contains($0.name) || settings.explicit.contains($0.name) }
    }
}
