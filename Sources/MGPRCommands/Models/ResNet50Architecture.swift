import Configuration
import Engine
import Models
import Pipeline
import Results
import Weights
import Platform

/// `model=resnet50`: torchvision's classifier, a class per tile.
enum ResNet50Architecture: Architecture {
    struct Loaded {
        var weights: WeightStore
        var classes: Int
    }

    static func load(_ config: RunConfig, log: Log) throws -> Loaded {
        let weights = try ModelSetup.weights(config, log: log) { ResNet50.seededWeights(seed: config.seed) }
        guard let classes = ResNet50.classes(in: weights) else {
            throw WeightsError.missingKey(path: weights.path, key: "fc.weight")
        }
        try weights.validate(
            expected: ResNet50.graph(batch: 1, height: 64, width: 64, classes: classes).parameters, ignored: ResNet50.isIgnored)
        return Loaded(weights: weights, classes: classes)
    }

    static func setup(_ loaded: Loaded, _ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) -> ModelSetup.Prepared {
        let batchSize = config.batchSize, classes = loaded.classes
        let weights = ModelSetup.supply(loaded.weights, config, users: devices.models) { try load($0, log: $1).weights }
        let model: InferenceRun.ModelFactory = { device in
            let model = ClassifierTileModel(
                backend: devices.backends[device], weights: weights, precision: devices.precision, classes: classes,
                normalization: ResNet50.preprocessing,
                graph: { ResNet50.graph(batch: $0, height: $1, width: $2, classes: classes) })
            try model.prepare(batchSize: batchSize, tileShape: tileShape)
            return model
        }
        return ModelSetup.prepared(config, description: counted(classes, "class", plural: "classes"), devices: devices, weights: weights,
                                     model: { device, _ in try model(device) }, format: .classification)
    }

    /// About 200 bytes per input pixel: its first stages' 64- and 256-channel maps.
    static func deviceBytes(_ config: RunConfig, tileShape: TileShape) -> Int {
        let pixels = MemoryEstimate.saturating(tileShape.height, tileShape.width, plus: 0)
        return MemoryEstimate.saturating(MemoryEstimate.saturating(pixels, config.batchSize, plus: 0), 200, plus: fixedBytes)
    }

    static func assumedSecondsPerTile(onGPU: Bool) -> Double { onGPU ? 0.02 : 2 }
}
