import CPUBackend
import Configuration
import Engine
import Foundation
import Models
import Pipeline
import Raster
import Weights

/// Everything a run needs from its `model`, `weights`, `precision`, `cpu_threads` and
/// `output` keys, checked before the first tile is read.
struct ModelSetup {
    let makeModel: InferenceRun.ModelFactory
    let handleOutputs: InferenceRun.OutputHandler
    let finish: () throws -> Void
    let summary: String

    /// Checks the model's settings and loads its weights; nothing is written yet.
    static func check(_ config: RunConfig, tileShape: TileShape, log: Log) throws -> (ResultsPart) throws -> ModelSetup {
        if let output = config.output { try ResultsTarget.check(output, model: config.model) }
        switch config.model {
        case "resnet50":
            return try resnet50(config, tileShape: tileShape, log: log)
        case "fasterrcnn":
            return try fasterrcnn(config, tileShape: tileShape, log: log)
        default:
            return { _ in
                ModelSetup(
                    makeModel: { _ in NoModel() }, handleOutputs: { _, _ in }, finish: {},
                    summary: "model=none (data path only)")
            }
        }
    }

    /// Lightning's precision names mapped onto what the engine computes in.
    static func precision(_ name: String) throws -> Precision {
        switch name {
        case "32", "32-true": return .f32
        case "16-mixed", "16-true": return .f16
        case "bf16-mixed", "bf16-true": return .bf16
        default:
            throw ConfigError.invalidValue(key: "precision", value: name, reason: "mgpr computes in 32 or 16 bits: use 32, bf16-mixed or 16-mixed")
        }
    }

    /// Where this rank writes its results part, whether it continues an earlier part,
    /// and the run's results file (nil: results are not kept).
    struct ResultsPart {
        var path: String
        var append: Bool
        var output: String?
    }

    /// The CPU backend for this run's threads and devices, with its precision.
    private static func backend(_ config: RunConfig, log: Log) throws -> (CPUBackend, Precision) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = max(1, (config.cpuThreads == 0 ? cores : config.cpuThreads) / config.devices)
        let backend = CPUBackend(threads: threads)
        let (precision, notice) = backend.resolve(try precision(config.precision))
        if let notice { log.info("precision=\(config.precision): \(notice)") }
        return (backend, precision)
    }

    private static func fasterrcnn(_ config: RunConfig, tileShape: TileShape, log: Log) throws
        -> (ResultsPart) throws -> ModelSetup
    {
        guard tileShape.channels == 3 else {
            throw ConfigError.invalidValue(
                key: "bands", value: "\(config.bands)", reason: "fasterrcnn takes 3 bands (RGB); this gives \(tileShape.channels)")
        }
        let (backend, precision) = try backend(config, log: log)
        var weights: WeightStore
        var settings = DetectorSettings()
        settings.bnEps = Float(config.bnEps)
        if let path = config.weights {
            weights = try WeightStore(contentsOf: path)
            weights.rename(FasterRCNNBackbone.modernKey)
            // RunConfig derives bn_eps 0 for torchvision's own COCO weights.
            if path.contains("258fb6c6") && !config.settings.explicit.contains("bn_eps") {
                log.info("weights \(path) are torchvision's COCO file: frozen BatchNorm eps 0, as torchvision runs them (set bn_eps to override)")
            }
        } else {
            log.warning("No weights given (weights=null): fasterrcnn runs with seeded random weights; results are for timing only")
            weights = FasterRCNN.seededWeights(seed: config.seed)
        }
        guard let classes = FasterRCNN.classes(in: weights) else {
            throw WeightsError.missingKey(path: weights.path, key: "roi_heads.box_predictor.cls_score.weight")
        }
        try weights.validate(expected: FasterRCNN.parameters(classes: classes), ignored: ResNet50.isIgnored)
        settings.minSize = config.minSize
        settings.maxSize = config.maxSize
        settings.scoreThreshold = Float(config.scoreThreshold)
        settings.nmsThreshold = Float(config.nmsThreshold)
        settings.detectionsPerImage = config.detectionsPerTile
        settings.imagesPerPass = config.imagesPerPass
        let batchSize = config.batchSize
        let model: InferenceRun.ModelFactory = { [settings, weights] _ in
            let model = DetectorTileModel(backend: backend, weights: weights, precision: precision, classes: classes, settings: settings)
            try model.prepare(batchSize: batchSize, tileShape: tileShape)
            return model
        }
        return { part in
            let sink = try part.output.map { _ in try DetectionCSV(path: part.path, append: part.append) }
            return ModelSetup(
                makeModel: model,
                handleOutputs: { batch, outputs in try sink?.write(batch, outputs) },
                finish: { try sink?.close() },
                summary: "model=fasterrcnn (\(classes) classes, weights \(config.weights ?? "seeded")), "
                    + "\(precision.rawValue) on \(backend.description) per device"
                    + (part.output.map { ", results to \($0)" } ?? ", results not kept (output=none)"))
        }
    }

    private static func resnet50(_ config: RunConfig, tileShape: TileShape, log: Log) throws
        -> (ResultsPart) throws -> ModelSetup
    {
        guard tileShape.channels == 3 else {
            throw ConfigError.invalidValue(
                key: "bands", value: "\(config.bands)", reason: "resnet50 takes 3 bands (RGB); this gives \(tileShape.channels)")
        }
        let (backend, precision) = try backend(config, log: log)
        let weights: WeightStore
        if let path = config.weights {
            weights = try WeightStore(contentsOf: path)
        } else {
            log.warning("No weights given (weights=null): resnet50 runs with seeded random weights; results are for timing only")
            weights = ResNet50.seededWeights(seed: config.seed)
        }
        guard let classes = ResNet50.classes(in: weights) else {
            throw WeightsError.missingKey(path: weights.path, key: "fc.weight")
        }
        try weights.validate(
            expected: ResNet50.graph(batch: 1, height: 64, width: 64, classes: classes).parameters,
            ignored: ResNet50.isIgnored)

        let batchSize = config.batchSize
        let model: InferenceRun.ModelFactory = { _ in
            let model = ClassifierTileModel(
                backend: backend, weights: weights, precision: precision, classes: classes,
                normalization: ResNet50.preprocessing,
                graph: { ResNet50.graph(batch: $0, height: $1, width: $2, classes: classes) })
            try model.prepare(batchSize: batchSize, tileShape: tileShape)
            return model
        }
        return { part in
            let sink = try part.output.map { _ in try ClassificationCSV(path: part.path, append: part.append) }
            return ModelSetup(
            makeModel: model,
            handleOutputs: { batch, outputs in try sink?.write(batch, outputs) },
            finish: { try sink?.close() },
            summary: "model=resnet50 (\(classes) classes, weights \(config.weights ?? "seeded")), "
                + "\(precision.rawValue) on \(backend.description) per device"
                + (part.output.map { ", results to \($0)" } ?? ", results not kept (output=none)"))
        }
    }
}
