import CPUBackend
import Configuration
import Engine
import Foundation
import Models
import Pipeline
import Raster
import Results
import Tiling
import Weights

/// Everything a run needs from its `model`, `weights`, `precision`, `cpu_threads` and
/// `output` keys, checked before the first tile is read. Each architecture builds its
/// own (Models/<Name>Architecture.swift); this holds what they share.
struct ModelSetup {
    let makeModel: InferenceRun.ModelFactory
    /// Writes a batch's results; returns the rows each tile took (nil: not kept).
    let handleOutputs: @Sendable (_ batch: Batch, _ outputs: [TileOutput]) throws -> [WrittenRows]?
    let finish: () throws -> Void
    let summary: String

    /// Where this rank writes its results part, whether it continues an earlier part,
    /// and the run's results file (nil: results are not kept).
    struct PartFile {
        var path: String
        var append: Bool
        var output: String?
        /// Where each tile's pixels go and what is kept of them (a segmentation's); nil without a raster.
        var segmentation: SegmentationLayout?
        /// How the loader will hold the tiles' pixels (stored samples only where ``Prepared/storedPixels``).
        var pixels: PixelEncoding = .float32
    }

    /// A model checked and loaded, made into its setup once the run knows its part file.
    struct Prepared {
        /// Classes a segmentation scores per pixel (its raster's palette and id type); nil for other tasks.
        var segmentationClasses: Int?
        /// Whether its models take tiles as stored (Byte, UInt16) and scale them on the
        /// device: the detectors on a GPU, where that is a quarter (a half) of the bytes to copy.
        var storedPixels = false
        var make: (PartFile) throws -> ModelSetup

        func callAsFunction(_ part: PartFile) throws -> ModelSetup { try make(part) }
    }

    /// Checks the model's settings and loads its weights; nothing is written yet.
    static func check(_ config: RunConfig, tileShape: TileShape, devices: Devices, log: Log) throws -> Prepared {
        if let output = config.output { try ResultsTarget.check(output, model: config.model) }
        guard let architecture = config.model.architecture else {
            return Prepared { _ in
                ModelSetup(
                    makeModel: { _ in NoModel() }, handleOutputs: { _, _ in nil }, finish: {},
                    summary: "model=none (data path only)")
            }
        }
        return try architecture.check(config, tileShape: tileShape, devices: devices, log: log)
    }

    /// What the engine computes in for a Lightning precision name.
    static func precision(_ name: PrecisionName) -> Precision {
        switch name.compute {
        case .f16: .f16
        case .bf16: .bf16
        case .f32, nil: .f32
        }
    }

    /// The networks here read RGB: three bands.
    static func requireRGB(_ config: RunConfig, _ tileShape: TileShape) throws {
        guard tileShape.channels == 3 else {
            throw ConfigError.invalidValue(
                key: "bands", value: "\(config.bands)",
                reason: "\(config.model.rawValue) takes 3 bands (RGB); this gives \(tileShape.channels)")
        }
    }

    /// The weights file's tensors, or seeded ones (with the warning that says so).
    static func weights(_ config: RunConfig, log: Log, seeded: () -> WeightStore) throws -> WeightStore {
        if let path = config.weights { return try WeightStore(contentsOf: path) }
        log.warning(
            "No weights given (weights=null): \(config.model.rawValue) runs with seeded random weights; results are for timing only")
        return seeded()
    }

    /// `store` for a run's `users` models to compile their plans from: let go once each has
    /// made its plans, then loaded again (by `load`, quietly) for a plan made later,
    /// provided the weights file is still the one the run started with.
    static func supply(
        _ store: WeightStore, _ config: RunConfig, users: Int,
        load: @escaping @Sendable (_ config: RunConfig, _ log: Log) throws -> WeightStore
    ) -> WeightSupply {
        let stamp = config.weights.flatMap(WeightsDigest.stamp(of:))
        return WeightSupply(store, users: users) {
            if let path = config.weights, WeightsDigest.stamp(of: path) != stamp { throw WeightsError.changedDuringRun(path: path) }
            return try load(config, Log(name: "mgpr", quiet: true))
        }
    }

    /// A detector's setup: detections to this rank's part as batches finish.
    static func detector(
        _ config: RunConfig, tileShape: TileShape, description: String, devices: Devices, weights: WeightSupply,
        make: @escaping @Sendable (_ backend: any Backend, _ precision: Precision) -> any Detector
    ) -> Prepared {
        let batchSize = config.batchSize
        var setup = prepared(config, description: description, devices: devices, weights: weights, model: { device, pixels in
            let model = DetectorTileModel(make(devices.backends[device], devices.precision))
            try model.prepare(batchSize: batchSize, tileShape: tileShape, pixels: pixels)
            return model
        }, format: .detection)
        setup.storedPixels = devices.onGPU
        return setup
    }

    /// A model's setup once its weights are checked: results to this rank's part (when
    /// kept) as batches finish, closed at the end. The models tell `weights` when their
    /// plans are made, so it can let the tensors go.
    static func prepared(
        _ config: RunConfig, description: String, devices: Devices, weights: WeightSupply,
        model makeModel: @escaping @Sendable (_ device: Int, _ pixels: PixelEncoding) throws -> any TileModel, format: PartFormat,
        segmentationClasses: Int? = nil
    ) -> Prepared {
        return Prepared(segmentationClasses: segmentationClasses) { part in
            let sink = try part.output.map { _ in try format.sink(path: part.path, append: part.append, segmentation: part.segmentation) }
            return ModelSetup(
                makeModel: { device in
                    let model = try makeModel(device, part.pixels)
                    if weights.madePlans() { ProcessTuning.returnFreedMemory() }
                    return model
                },
                handleOutputs: { batch, outputs in try sink?.write(batch.tiles, outputs) },
                finish: { try sink?.close() },
                summary: summary(config, description, devices, output: part.output))
        }
    }

    static func summary(_ config: RunConfig, _ description: String, _ devices: Devices, output: String?) -> String {
        "model=\(config.model.rawValue) (\(description), weights \(config.weights ?? "seeded")), "
            + "\(devices.precision.rawValue) on \(devices.backends[0].description) per device"
            + (output.map { ", results to \($0)" } ?? ", results not kept (output=none)")
    }
}
