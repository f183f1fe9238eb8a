import Configuration
import Engine
import Models
import Pipeline
import Results
import Weights

/// `model=resnet50`: torchvision's classifier, a class per tile.
enum ResNet50Setup {
    static func check(_ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) throws -> ModelSetup.Prepared {
        try ModelSetup.requireRGB(config, tileShape)
        let weights = try ModelSetup.weights(config, log: log) { ResNet50.seededWeights(seed: config.seed) }
        guard let classes = ResNet50.classes(in: weights) else {
            throw WeightsError.missingKey(path: weights.path, key: "fc.weight")
        }
        try weights.validate(
            expected: ResNet50.graph(batch: 1, height: 64, width: 64, classes: classes).parameters,
            ignored: ResNet50.isIgnored)

        let batchSize = config.batchSize
        let model: InferenceRun.ModelFactory = { device in
            let model = ClassifierTileModel(
                backend: devices.backends[device], weights: weights, precision: devices.precision, classes: classes,
                normalization: ResNet50.preprocessing,
                graph: { ResNet50.graph(batch: $0, height: $1, width: $2, classes: classes) })
            try model.prepare(batchSize: batchSize, tileShape: tileShape)
            return model
        }
        return ModelSetup.prepared(
            config, description: "\(classes) classes", devices: devices, model: model,
            format: .classification)
    }
}
