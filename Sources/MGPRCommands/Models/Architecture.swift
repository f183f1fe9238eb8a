import Configuration
import Foundation
import Engine
import Models
import Pipeline

/// What mgpr knows of one network, one file per architecture: its weights loaded and
/// checked as every command loads them, the run it sets up, what a device holds for it
/// and how long a batch is assumed to take where none can be measured. Runs, `mgpr
/// forward`, `mgpr doctor`, `mgpr slurm` and the memory check all ask here; a new model
/// is a new file here, a case of ``ModelName`` (its defaults and outputs) and its network
/// in Models.
protocol Architecture {
    /// The weights, checked against the network they describe, and what they told.
    associatedtype Loaded

    /// Loads and checks the weights `config` names (or seeded ones, saying so).
    static func load(_ config: RunConfig, log: Log) throws -> Loaded

    /// The run's setup once the weights are loaded; nothing is written yet.
    static func setup(_ loaded: Loaded, _ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) throws
        -> ModelSetup.Prepared

    /// Bytes a device holds for the model at `config`'s batch: weights, plans and
    /// activations, measured on these networks with oneDNN's planned arena.
    static func deviceBytes(_ config: RunConfig, tileShape: TileShape) -> Int

    /// Seconds per 1024 px tile where a batch cannot be measured, on the slow side of
    /// what is common (a small GPU; a CPU of a few cores).
    static func assumedSecondsPerTile(onGPU: Bool) -> Double

    /// Whether the network reads any number of bands (its weights say how many); else RGB.
    static var takesAnyBands: Bool { get }
}

extension Architecture {
    /// Checks the model's settings and loads its weights; nothing is written yet.
    static var takesAnyBands: Bool { false }

    static func check(_ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) throws -> ModelSetup.Prepared {
        if !takesAnyBands { try ModelSetup.requireRGB(config, tileShape) }
        return try setup(try load(config, log: log), config, tileShape: tileShape, devices: devices, log: log)
    }

    /// Weights and plans, beside the activations.
    static var fixedBytes: Int { 400 << 20 }
}

extension ModelName {
    /// The architecture behind `model=`; nil for `none`.
    var architecture: (any Architecture.Type)? {
        switch self {
        case .resnet50: ResNet50Architecture.self
        case .fasterrcnn: FasterRCNNArchitecture.self
        case .retinanet: RetinaNetArchitecture.self
        case .deeplabv3: DeepLabV3Architecture.self
        case .fcn: FCNArchitecture.self
        case .unet: UNetArchitecture.self
        case .none: nil
        }
    }
}

/// The detectors: the same input transform and backbone, so the same memory rule and
/// the same assumed time (measured on Faster R-CNN; RetinaNet's heads run on the same
/// pyramid).
protocol DetectorArchitecture: Architecture {}

extension DetectorArchitecture {
    /// About 500 bytes per pixel of the resized, padded image (backbone, pyramid, pooled
    /// proposals), for the images of one pass.
    static func deviceBytes(_ config: RunConfig, tileShape: TileShape) -> Int {
        let transform = DetectorTransform(minSize: config.minSize, maxSize: config.maxSize, normalization: ResNet50.preprocessing)
        let (h, w) = transform.padded(height: tileShape.height, width: tileShape.width)
        let pass = min(config.imagesPerPass, config.batchSize)
        return MemoryEstimate.saturating(MemoryEstimate.saturating(h * w, pass, plus: 0), 500, plus: fixedBytes)
    }

    static func assumedSecondsPerTile(onGPU: Bool) -> Double { onGPU ? 0.1 : 10 }

    /// Says once when the network sees tiles resized by more than 1.25x either way
    /// (torchvision's min_size/max_size rule): 512 px tiles become 800 px ones, at 2.4x
    /// the work, which a user choosing tile_size would not guess.
    static func noteResize(_ config: RunConfig, tileShape: TileShape, log: Log) {
        let transform = DetectorTransform(minSize: config.minSize, maxSize: config.maxSize, normalization: ResNet50.preprocessing)
        let resized = transform.resized(height: tileShape.height, width: tileShape.width)
        let scale = Double(resized.width) / Double(tileShape.width)
        guard scale > 1.25 || scale < 0.8 else { return }
        log.info(
            "tiles of \(tileShape.width) px reach the network at \(resized.width) px "
                + "(min_size=\(config.minSize), max_size=\(config.maxSize), as torchvision does; "
                + "min_size=\(min(tileShape.width, tileShape.height)) keeps their size)")
    }

    /// The log line saying why bn_eps is 0, where the rule chose it.
    static func noteCOCOWeights(_ config: RunConfig, log: Log) {
        if let path = config.weights, COCOWeights.contains(path), !config.settings.explicit.contains("bn_eps") {
            log.info(COCOWeights.notice(weights: path))
        }
    }
}
