import Cluster
import Configuration
import Foundation
import Pipeline

/// How long one batch of this run's model takes on this machine, estimated from one
/// dummy tile (after the plans are compiled) times `batch_size`: the time a stop after
/// SLURM's warning signal may need, so the warning can be set to fit it.
enum BatchTime {
    /// A batch's time for a job file: measured here when this machine can run one of the
    /// job's devices (a rank runs one), otherwise ``assumed(_:onGPU:)``, since job files
    /// are written on login nodes that have no GPU.
    struct JobEstimate {
        var seconds: Double
        var measured: Bool
    }

    static func forJob(_ config: RunConfig, onGPU: Bool) throws -> JobEstimate {
        var probe = config
        probe.devices = 1
        probe.accelerator = onGPU ? .gpu : .cpu
        if onGPU, case .failure = Devices.gpus(probe, context: RankContext.discover([:])) {
            return JobEstimate(seconds: assumed(config, onGPU: true), measured: false)
        }
        return JobEstimate(seconds: try estimate(probe), measured: true)
    }

    /// A batch's time where it cannot be measured, on the slow side of what is common
    /// (a small GPU; a CPU of a few cores), since a warning that comes early costs little
    /// and one that comes late loses the batch in flight: per 1024 px tile, the detectors
    /// 0.1 s on a GPU and 10 s on a CPU, ResNet50 0.02 s and 2 s, in proportion to the
    /// tile's area.
    static func assumed(_ config: RunConfig, onGPU: Bool) -> Double {
        let perTile = config.model.architecture?.assumedSecondsPerTile(onGPU: onGPU) ?? 0
        let area = Double(config.tileSize * config.tileSize) / Double(1024 * 1024)
        return perTile * area * Double(config.batchSize)
    }

    static func estimate(_ config: RunConfig) throws -> Double {
        guard config.model != .none else { return 0 }
        var probe = config
        probe.output = nil
        let shape = TileShape(channels: config.bands.count, height: config.tileSize, width: config.tileSize)
        let log = Log(name: "mgpr.probe", quiet: true)
        let devices = try Devices.choose(probe, context: RankContext.discover(ProcessInfo.processInfo.environment), log: log)
        let setup = try ModelSetup.check(probe, tileShape: shape, devices: devices, log: log)(
            ModelSetup.PartFile(path: "/dev/null", append: false, output: nil))
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
