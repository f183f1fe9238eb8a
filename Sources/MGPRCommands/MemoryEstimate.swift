import Configuration
import Foundation
import Pipeline

/// What a run will hold at the least, estimated before anything is allocated, so that
/// a run that cannot fit is refused with its numbers and the keys to change, instead of
/// dying when the allocation fails (or trapping when a size overflows).
enum MemoryEstimate {
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
        let pixels = saturating(tileShape.height, tileShape.width, plus: 0)
        let tileBytes = saturating(saturating(pixels, tileShape.channels, plus: 0), MemoryLayout<Float>.stride, plus: 0)
        let batchBytes = saturating(tileBytes, config.batchSize, plus: 0)
        let pool = Loader.poolSize(
            batches: (tiles + config.batchSize - 1) / config.batchSize, batchBytes: batchBytes, workers: config.workers,
            prefetch: config.prefetch, consumers: config.devices, memoryBudget: config.loaderMemoryBytes)
        let model = config.model.architecture?.deviceBytes(config, tileShape: tileShape) ?? 0
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
