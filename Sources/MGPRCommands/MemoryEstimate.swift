import Configuration
import Foundation
import Pipeline

/// What a run will hold at the least, estimated before anything is allocated, so that
/// a run that cannot fit is refused with its numbers and the keys to change, instead of
/// dying when the allocation fails (or trapping when a size overflows).
enum MemoryEstimate {
    /// Bytes per pixel of the model's activations, measured on these networks with
    /// oneDNN's planned arena: ResNet50 ~200 per input pixel (its first stages' 64- and
    /// 256-channel maps), Faster R-CNN ~500 per pixel of the resized image (backbone,
    /// pyramid, pooled proposals), plus weights and plans.
    static let resnet50BytesPerPixel = 200, detectorBytesPerPixel = 500
    static let modelFixedBytes = 400 << 20

    struct Need {
        var batchBytes: Int
        var poolBatches: Int
        var modelBytes: Int
        var devices: Int
        var total: Int { saturating(batchBytes, poolBatches, plus: saturating(modelBytes, devices, plus: 0)) }
    }

    /// `a * b + c`, stopping at Int.max instead of overflowing.
    static func saturating(_ a: Int, _ b: Int, plus c: Int) -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        if overflow { return .max }
        let (sum, overflow2) = product.addingReportingOverflow(c)
        return overflow2 ? .max : sum
    }

    static func need(_ config: RunConfig, tileShape: TileShape, tiles: Int) -> Need {
        let side = tileShape.height
        let pixels = saturating(tileShape.height, tileShape.width, plus: 0)
        let tileBytes = saturating(saturating(pixels, tileShape.channels, plus: 0), MemoryLayout<Float>.stride, plus: 0)
        let batchBytes = saturating(tileBytes, config.batchSize, plus: 0)
        let pool = Loader.poolSize(
            batches: (tiles + config.batchSize - 1) / config.batchSize, batchBytes: batchBytes, workers: config.workers,
            prefetch: config.prefetch, consumers: config.devices, memoryBudget: config.loaderMemoryBytes)
        let model: Int
        switch config.model {
        case .resnet50:
            model = saturating(saturating(pixels, config.batchSize, plus: 0), resnet50BytesPerPixel, plus: modelFixedBytes)
        case .fasterrcnn, .retinanet:
            // Measured on Faster R-CNN; RetinaNet's heads run on the same pyramid.
            // Square tiles are resized to min_size (capped by max_size), padded to 32.
            let resized = Double(side) * min(Double(config.minSize) / Double(side), Double(config.maxSize) / Double(side))
            let padded = (Int(resized.rounded(.down)) + 31) / 32 * 32
            let pass = min(config.imagesPerPass, config.batchSize)
            model = saturating(saturating(padded * padded, pass, plus: 0), detectorBytesPerPixel, plus: modelFixedBytes)
        case .none:
            model = 0
        }
        return Need(batchBytes: batchBytes, poolBatches: pool, modelBytes: model, devices: config.devices)
    }

    /// Refuses a run that cannot fit in `physical` bytes (leaving a tenth for the rest).
    static func check(_ config: RunConfig, tileShape: TileShape, tiles: Int, physical: Int) throws(ConfigError) {
        let need = need(config, tileShape: tileShape, tiles: tiles)
        guard need.total > physical / 10 * 9 else { return }
        func gb(_ bytes: Int) -> String { bytes == .max ? "beyond counting" : String(format: "%.1f GB", Double(bytes) / 1e9) }
        let batches = need.poolBatches == 1 ? "1 batch" : "\(need.poolBatches) batches"
        throw .invalidValue(
            key: "tile_size", value: "\(config.tileSize)",
            reason: "this run needs memory \(need.total == .max ? "beyond counting" : "of about \(gb(need.total))") "
                + "(\(batches) of \(config.batchSize) tiles, \(gb(need.batchBytes)) each, and \(gb(need.modelBytes)) of model "
                + "per device x \(need.devices)) but this machine has \(gb(physical)); lower tile_size, batch_size, "
                + "images_per_pass or gpus")
    }
}
