import Cluster
import Configuration
import Foundation
import Pipeline

/// How long one batch of this run's model takes on this machine, estimated from one
/// dummy tile (after the plans are compiled) times `batch_size`: the time a stop after
/// SLURM's warning signal may need, so the warning can be set to fit it.
enum BatchTime {
    static func estimate(_ config: RunConfig) throws -> Double {
        guard config.model != .none else { return 0 }
        var probe = config
        probe.output = nil
        let shape = TileShape(channels: config.bands.count, height: config.tileSize, width: config.tileSize)
        let log = Log(name: "mgpr.probe", quiet: true)
        let devices = try Devices.choose(probe, context: RankContext.discover(ProcessInfo.processInfo.environment), log: log)
        let setup = try ModelSetup.check(probe, tileShape: shape, devices: devices, log: log)(
            ModelSetup.ResultsPart(path: "/dev/null", append: false, output: nil))
        let model = try setup.makeModel(0)
        let source = DummyTileSource(count: 1, tileSize: config.tileSize, channels: config.bands.count, delay: 0, seed: config.seed)
        let loader = try Loader(source: source, batchSize: 1, workers: 0)
        guard let batch = try loader.next() else { return 0 }
        _ = try model.predict(batch)  // the first run touches the arena and builds kernels
        let start = Date()
        _ = try model.predict(batch)
        return Date().timeIntervalSince(start) * Double(config.batchSize)
    }

    /// SLURM's warning (seconds before the time limit) that leaves a stop twice the
    /// batch time and a minute for the results and the gather, in steps of 30 s, and
    /// never less than the seed's 120.
    static func warningSeconds(batchSeconds: Double) -> Int {
        max(120, Int(((2 * batchSeconds + 60) / 30).rounded(.up)) * 30)
    }
}
