import Configuration
import Foundation
import Pipeline
import Raster
import Tiling

/// `mgpr key=value ...`: tile the source, run the model on every tile, report.
public struct PredictCommand: Sendable {
    public let config: RunConfig
    let log = Log()

    public init(config: RunConfig) { self.config = config }

    /// Runs and returns the summary (also printed and saved in the run directory).
    @discardableResult
    public func run() throws -> RunSummary {
        Terminal.standardOutput(config.settings.yaml)
        if config.accelerator == .gpu { throw CommandError.noGPUBackend }
        log.info("GPU available: False, used: False")
        // Check the input before creating anything, so a typo leaves no empty run behind.
        let source = try makeSource()
        let model = try ModelSetup.make(config, tileShape: source.tileShape, log: log)
        let runDirectory = try RunDirectory(configured: config.runDir)
        try runDirectory.saveConfig(config.settings)
        log.info("Run directory: \(runDirectory.path)")
        let loader = try Loader(
            source: source, batchSize: config.batchSize, workers: config.workers, prefetch: config.prefetch,
            consumers: config.devices)
        log.info(
            "Predicting \(source.count) tiles of \(source.tileShape) in \(loader.batchCount) batches of \(config.batchSize) "
                + "on \(config.devices) CPU device\(config.devices == 1 ? "" : "s") with \(config.workers) workers")
        log.info(model.summary)

        let progress = ProgressBar(
            total: loader.batchCount, interactive: Terminal.stderrIsTerminal, logInterval: config.logInterval,
            write: Terminal.standardError)
        let recorder = try RunRecorder(metricsPath: runDirectory.file("metrics.csv"))
        let run = InferenceRun(
            loader: loader, devices: config.devices, makeModel: model.makeModel, handleOutputs: model.handleOutputs,
            recorder: recorder, progress: progress)
        let summary = try run.run()
        try model.finish()

        Terminal.standardOutput(SummaryReport.text(summary, deviceKind: "CPU"))
        if config.profiler == "simple" {
            Terminal.standardOutput(SummaryReport.profile(summary, records: recorder.records))
        }
        try save(summary, to: runDirectory.file("summary.json"))
        log.info(String(format: "Prediction completed in %.2f seconds", summary.elapsedSeconds))
        return summary
    }

    private func makeSource() throws -> any TileSource {
        if config.useFakeData {
            log.info(
                "Using dummy data: \(config.dummyCount) random tiles, \(config.dummyDelay) s each (use_fake_data=true)")
            return DummyTileSource(
                count: config.dummyCount, tileSize: config.tileSize, delay: config.dummyDelay, seed: config.seed)
        }
        let source = try RasterTileSource(
            path: config.imagePath, bands: config.bands, tileSize: config.tileSize, overlap: config.overlap)
        let raster = source.raster
        log.info(
            "Raster \(raster.path): \(raster.width)x\(raster.height) px, \(raster.bandCount) bands "
                + "(\(raster.sampleTypes.map(\.rawValue).joined(separator: ", "))), \(raster.driver), "
                + "CRS \(raster.crsName ?? "none"); \(source.grid.columns)x\(source.grid.rows) tiles")
        if !raster.georeference.isGeoreferenced {
            log.warning("\(raster.path) has no georeferencing: tile bounds are in pixel coordinates")
        }
        return source
    }

    private func save(_ summary: RunSummary, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(summary).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CommandError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}
