import Configuration
import Engine
import Models
import Pipeline
import Weights
import Platform

/// `model=retinanet`: torchvision's retinanet_resnet50_fpn or _v2 (told apart by the
/// weights), as DeepForest's tree and bird models are.
enum RetinaNetArchitecture: DetectorArchitecture {
    struct Loaded {
        var weights: WeightStore
        var network: RetinaNetNetwork
    }

    static func load(_ config: RunConfig, log: Log) throws -> Loaded {
        var weights = try ModelSetup.weights(config, log: log) {
            SeededWeights.make(RetinaNetNetwork(classes: config.labelNames?.count ?? 91).parameters, seed: config.seed)
        }
        weights.rename(RetinaNetNetwork.modernKey)
        let network: RetinaNetNetwork
        switch RetinaNetNetwork.described(by: weights) {
        case .success(let found): network = found
        case .failure(let missing): throw WeightsError.missingKey(path: weights.path, key: missing.key)
        }
        try weights.validate(expected: network.parameters, ignored: ResNet50.isIgnored)
        noteCOCOWeights(config, log: log)
        if let names = config.labelNames, names.count != network.classes {
            log.warning("the weights' config.json names \(names.count) classes, the weights have \(network.classes): unnamed classes keep their index")
        }
        return Loaded(weights: weights, network: network)
    }

    static func setup(_ loaded: Loaded, _ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) -> ModelSetup.Prepared {
        noteResize(config, tileShape: tileShape, log: log)
        let network = loaded.network
        let variant = network.p6FromC5 || network.groupNormHead ? "v2" : "v1"
        let classes = config.labelNames.map { "classes \(DisplayText.names($0))" } ?? counted(network.classes, "class", plural: "classes")
        let weights = ModelSetup.supply(loaded.weights, config, users: devices.models) { try load($0, log: $1).weights }
        return ModelSetup.detector(config, tileShape: tileShape, description: "\(variant), \(classes)", devices: devices, weights: weights) {
            backend, precision in detector(config, backend: backend, network: network, weights: weights, precision: precision)
        }
    }

    static func detector(
        _ config: RunConfig, backend: any Backend, network: RetinaNetNetwork, weights: WeightSupply, precision: Precision
    ) -> any Detector {
        RetinaNet(
            network: network, backend: backend, weights: weights, precision: precision, settings: DetectorSettings(config, on: backend.deviceKind))
    }
}
