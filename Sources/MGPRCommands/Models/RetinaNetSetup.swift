import Configuration
import Models
import Pipeline
import Weights

/// `model=retinanet`: torchvision's retinanet_resnet50_fpn or _v2 (told apart by the
/// weights), as DeepForest's tree and bird models are.
enum RetinaNetSetup {
    static func check(_ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) throws -> ModelSetup.Prepared {
        try ModelSetup.requireRGB(config, tileShape)
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
        if let path = config.weights, path.contains("eeacb38b"), !config.settings.explicit.contains("bn_eps") {
            log.info("weights \(path) are torchvision's COCO file: frozen BatchNorm eps 0, as torchvision runs them (set bn_eps to override)")
        }
        if let names = config.labelNames, names.count != network.classes {
            log.warning("the weights' config.json names \(names.count) classes, the weights have \(network.classes): unnamed classes keep their index")
        }
        let settings = DetectorSettings(config)
        let variant = network.p6FromC5 || network.groupNormHead ? "v2" : "v1"
        let classes = config.labelNames.map { "classes \(DisplayText.names($0))" } ?? "\(network.classes) classes"
        return ModelSetup.detector(
            config, tileShape: tileShape, description: "\(variant), \(classes)", devices: devices
        ) { [weights] backend, precision in
            RetinaNet(network: network, backend: backend, weights: weights, precision: precision, settings: settings)
        }
    }
}
