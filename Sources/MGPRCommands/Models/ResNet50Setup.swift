import Configuration
import Engine
import Models
import Pipeline
import Weights

/// `model=resnet50`: torchvision's classifier, a class per tile.
enum ResNet50Setup {
    static func check(_ config: RunConfig, tileShape: TileShape, log: Log) throws -> ModelSetup.Prepared {
        try ModelSetup.requireRGB(config, tileShape)
        let (backend, precision) = ModelSetup.backend(config, log: log)
        let weights = try ModelSetup.weights(config, log: log) { ResNet50.seededWeights(seed: config.seed) }
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
        return ModelSetup.prepared(
            config, description: "\(classes) classes", precision: precision, backend: backend, model: model,
            sink: { try ClassificationCSV(path: $0.path, append: $0.append) })
    }
}
