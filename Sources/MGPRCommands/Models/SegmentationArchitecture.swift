import Configuration
import Engine
import Models
import Pipeline
import Platform
import Results
import Weights

/// `model=deeplabv3`, `model=fcn` and `model=unet`: a class per pixel, written as one
/// class raster in the input's grid. The network is read from its weights (backbone or
/// encoder depth, bands, classes); the input is normalised with `mean`/`std`, ImageNet's
/// by default for three bands.
protocol SegmentationArchitecture: Architecture, SendableMetatype where Loaded == LoadedSegmentation {
    /// The network the weights describe, or nil when they hold another.
    static func network(in weights: WeightStore) -> (any SegmentationNetwork)?
    /// Seeded weights for `bands` input bands, for timing runs without a file.
    static func seeded(bands: Int, seed: UInt64) -> WeightStore
    /// Keys whose absence says the weights are not this model's, for the error.
    static var identifyingKeys: [String] { get }
}

struct LoadedSegmentation {
    var weights: WeightStore
    var network: any SegmentationNetwork
}

/// Classes of the seeded networks: the 21 of torchvision's VOC-trained segmentation models.
private let seededClasses = 21

extension SegmentationArchitecture {
    static var takesAnyBands: Bool { true }

    static func load(_ config: RunConfig, log: Log) throws -> LoadedSegmentation {
        let weights = try ModelSetup.weights(config, log: log) { seeded(bands: config.bands.count, seed: config.seed) }
        guard let network = network(in: weights) else {
            let missing = identifyingKeys.first { weights[$0] == nil } ?? identifyingKeys[0]
            throw WeightsError.missingKey(path: weights.path, key: missing)
        }
        try weights.validate(expected: network.graph(batch: 1, height: 64, width: 64).parameters, ignored: network.isIgnored)
        return LoadedSegmentation(weights: weights, network: network)
    }

    static func setup(_ loaded: LoadedSegmentation, _ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) throws -> ModelSetup.Prepared {
        let network = loaded.network
        guard tileShape.channels == network.inChannels else {
            throw ConfigError.invalidValue(
                key: "bands", value: "\(config.bands)",
                reason: "the weights' \(network.description) reads \(network.inChannels) band\(network.inChannels == 1 ? "" : "s"); "
                    + "this gives \(tileShape.channels)")
        }
        guard tileShape.height % network.sizeMultiple == 0, tileShape.width % network.sizeMultiple == 0 else {
            throw ConfigError.invalidValue(
                key: "tile_size", value: "\(tileShape.width)",
                reason: "\(network.description) needs tiles whose side is a multiple of \(network.sizeMultiple) "
                    + "(its skips join maps halved five times)")
        }
        let normalization = try Self.normalization(config, bands: network.inChannels)
        let batchSize = config.batchSize
        let weights = ModelSetup.supply(loaded.weights, config, users: devices.models) { try load($0, log: $1).weights }
        let keepsProbabilities = config.stitch == .blend || config.probabilities != .none
        let model: InferenceRun.ModelFactory = { device in
            let model = SegmentationTileModel(
                backend: devices.backends[device], weights: weights, precision: devices.precision, network: network,
                normalization: normalization, keepsProbabilities: keepsProbabilities)
            try model.prepare(batchSize: batchSize, tileShape: tileShape)
            return model
        }
        return ModelSetup.prepared(
            config, description: network.description, devices: devices, weights: weights, model: { device, _ in try model(device) },
            format: .segmentation,
            segmentationClasses: network.classes)
    }

    /// `mean` and `std` as given (one per band), else ImageNet's for three bands.
    static func normalization(_ config: RunConfig, bands: Int) throws -> Normalization {
        switch (config.mean, config.std) {
        case (let mean?, let std?):
            for (key, values) in [("mean", mean), ("std", std)] where values.count != bands {
                throw ConfigError.invalidValue(
                    key: key, value: "\(values)", reason: "give one value per band: the model reads \(bands)")
            }
            return Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
        case (nil, nil) where bands == 3:
            return ResNet50.preprocessing
        case (nil, nil):
            throw ConfigError.invalidValue(
                key: "mean", value: "null",
                reason: "the model reads \(bands) bands: give the normalisation it was trained with, mean=[...] and std=[...], "
                    + "one value per band on pixels scaled to [0, 1] (ImageNet's is only for 3 bands)")
        case (nil, _?):
            throw ConfigError.invalidValue(key: "mean", value: "null", reason: "std is given: give mean too, one value per band")
        case (_?, nil):
            throw ConfigError.invalidValue(key: "std", value: "null", reason: "mean is given: give std too, one value per band")
        }
    }

    /// About 1200 bytes per input pixel: the dilated backbone's maps at 1/8 of the input,
    /// and the logits at full size.
    static func deviceBytes(_ config: RunConfig, tileShape: TileShape) -> Int {
        let pixels = MemoryEstimate.saturating(tileShape.height, tileShape.width, plus: 0)
        return MemoryEstimate.saturating(MemoryEstimate.saturating(pixels, config.batchSize, plus: 0), 1200, plus: fixedBytes)
    }

    static func assumedSecondsPerTile(onGPU: Bool) -> Double { onGPU ? 0.1 : 10 }
}

/// `model=deeplabv3` and `model=fcn`: torchvision's heads over a dilated ResNet.
protocol TorchvisionSegmentationArchitecture: SegmentationArchitecture {
    static var head: TorchvisionSegmentation.Head { get }
}

extension TorchvisionSegmentationArchitecture {
    static func network(in weights: WeightStore) -> (any SegmentationNetwork)? {
        weights[TorchvisionSegmentation.headKey(head)] == nil ? nil : TorchvisionSegmentation.read(weights, head: head)
    }

    static var identifyingKeys: [String] { ["backbone.conv1.weight", TorchvisionSegmentation.headKey(head), "classifier.4.weight"] }

    static func seeded(bands: Int, seed: UInt64) -> WeightStore {
        var backbone = ResNetBody.resnet50
        (backbone.dilated, backbone.inChannels) = (true, bands)
        let network = TorchvisionSegmentation(head: head, backbone: backbone, classes: seededClasses)
        return SeededWeights.make(network.graph(batch: 1, height: 64, width: 64).parameters, seed: seed)
    }
}

/// `model=deeplabv3`: torchvision's deeplabv3_resnet50 (or _resnet101).
enum DeepLabV3Architecture: TorchvisionSegmentationArchitecture {
    static var head: TorchvisionSegmentation.Head { .deeplabv3 }
}

/// `model=fcn`: torchvision's fcn_resnet50 (or _resnet101).
enum FCNArchitecture: TorchvisionSegmentationArchitecture {
    static var head: TorchvisionSegmentation.Head { .fcn }
}

/// `model=unet`: segmentation_models_pytorch's Unet with a ResNet encoder.
enum UNetArchitecture: SegmentationArchitecture {
    static func network(in weights: WeightStore) -> (any SegmentationNetwork)? { UNet.read(weights) }

    static var identifyingKeys: [String] { ["encoder.conv1.weight", "decoder.blocks.0.conv1.0.weight", "segmentation_head.0.weight"] }

    static func seeded(bands: Int, seed: UInt64) -> WeightStore {
        var encoder = ResNetBody.resnet34
        encoder.inChannels = bands
        return SeededWeights.make(UNet(encoder: encoder, classes: seededClasses).graph(batch: 1, height: 64, width: 64).parameters, seed: seed)
    }
}
