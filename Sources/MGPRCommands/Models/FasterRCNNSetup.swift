import CUDABackend
import Configuration
import Engine
import Models
import Pipeline
import Weights

/// `model=fasterrcnn`: torchvision's fasterrcnn_resnet50_fpn (v1).
enum FasterRCNNSetup {
    static func check(_ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) throws -> ModelSetup.Prepared {
        try ModelSetup.requireRGB(config, tileShape)
        var weights = try ModelSetup.weights(config, log: log) { FasterRCNN.seededWeights(seed: config.seed) }
        weights.rename(FasterRCNNBackbone.modernKey)
        if let path = config.weights, path.contains("258fb6c6"), !config.settings.explicit.contains("bn_eps") {
            log.info("weights \(path) are torchvision's COCO file: frozen BatchNorm eps 0, as torchvision runs them (set bn_eps to override)")
        }
        guard let classes = FasterRCNN.classes(in: weights) else {
            throw WeightsError.missingKey(path: weights.path, key: "roi_heads.box_predictor.cls_score.weight")
        }
        try weights.validate(expected: FasterRCNN.parameters(classes: classes), ignored: ResNet50.isIgnored)
        return ModelSetup.detector(
            config, tileShape: tileShape, description: "\(classes) classes", devices: devices
        ) { [weights] backend, precision in
            detector(config, backend: backend, weights: weights, precision: precision, classes: classes)
        }
    }

    /// The detector for `backend`: wholly on the GPU where it is one, else ``FasterRCNN``.
    /// A GPU runs the whole batch in one pass unless images_per_pass says otherwise: its
    /// memory, not the host's, holds the pass.
    static func detector(
        _ config: RunConfig, backend: any Backend, weights: WeightStore, precision: Precision, classes: Int
    ) -> any Detector {
        var settings = DetectorSettings(config)
        guard let gpu = backend as? CUDABackend else {
            return FasterRCNN(backend: backend, weights: weights, precision: precision, classes: classes, settings: settings)
        }
        if !config.settings.explicit.contains("images_per_pass") { settings.imagesPerPass = config.batchSize }
        return CUDAFasterRCNN(backend: gpu, weights: weights, precision: precision, classes: classes, settings: settings)
    }
}

extension DetectorSettings {
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
