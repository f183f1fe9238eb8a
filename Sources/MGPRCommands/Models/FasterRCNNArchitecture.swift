import Configuration
import Engine
import Models
import Pipeline
import Weights
import Platform

/// `model=fasterrcnn`: torchvision's fasterrcnn_resnet50_fpn (v1).
enum FasterRCNNArchitecture: DetectorArchitecture {
    struct Loaded {
        var weights: WeightStore
        var classes: Int
    }

    static func load(_ config: RunConfig, log: Log) throws -> Loaded {
        var weights = try ModelSetup.weights(config, log: log) { FasterRCNN.seededWeights(seed: config.seed) }
        weights.rename(FasterRCNNBackbone.modernKey)
        noteCOCOWeights(config, log: log)
        guard let classes = FasterRCNN.classes(in: weights) else {
            throw WeightsError.missingKey(path: weights.path, key: "roi_heads.box_predictor.cls_score.weight")
        }
        try weights.validate(expected: FasterRCNN.parameters(classes: classes), ignored: ResNet50.isIgnored)
        return Loaded(weights: weights, classes: classes)
    }

    static func setup(_ loaded: Loaded, _ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) -> ModelSetup.Prepared {
        noteResize(config, tileShape: tileShape, log: log)
        let classes = loaded.classes
        let weights = ModelSetup.supply(loaded.weights, config, users: devices.models) { try load($0, log: $1).weights }
        return ModelSetup.detector(
            config, tileShape: tileShape, description: counted(classes, "class", plural: "classes"), devices: devices, weights: weights
        ) { backend, precision in
            detector(config, backend: backend, classes: classes, weights: weights, precision: precision)
        }
    }

    static func detector(_ config: RunConfig, backend: any Backend, classes: Int, weights: WeightSupply, precision: Precision) -> any Detector {
        FasterRCNN(
            backend: backend, weights: weights, precision: precision, classes: classes, settings: DetectorSettings(config, on: backend.deviceKind))
    }
}

extension DetectorSettings {
    /// The detector keys of a run on a `device`: a GPU runs the whole batch in one pass
    /// unless images_per_pass says otherwise (its memory, not the host's, holds the pass).
    init(_ config: RunConfig, on device: DeviceKind) {
        self.init(config)
        if device == .gpu && !config.settings.explicit.contains("images_per_pass") { imagesPerPass = config.batchSize }
    }

    /// The detector keys of a run.
    init(_ config: RunConfig) {
        self.init()
        bnEps = Float(config.bnEps)
        minSize = config.minSize
        maxSize = config.maxSize
        scoreThreshold = Float(config.scoreThreshold)
        nmsThreshold = Float(config.nmsThreshold)
        detectionsPerImage = config.detectionsPerTile
        imagesPerPass = config.imagesPerPass
    }
}
