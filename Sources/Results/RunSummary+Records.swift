extension RunSummary {
    /// What the compute threads of one device did, measured by the run.
    public struct ComputeUse: Sendable {
        public var threads: Int?
        public var cpuSeconds: Double?
        public init(threads: Int?, cpuSeconds: Double?) { (self.threads, self.cpuSeconds) = (threads, cpuSeconds) }
    }

    /// The summary of a run from its batches' records: per device, then in total.
    /// - Parameters:
    ///   - deviceNames: one per device, in device order.
    ///   - complete: whether every batch of the run's share was done.
    ///   - compute: each device's compute threads and their CPU time.
    ///   - cpuSeconds, readerCPUSeconds: the process's CPU time and the readers' share of it.
    public init(
        records: [BatchRecord], deviceNames: [String], elapsed: Double, peakRSSBytes: Int, loaderPoolBytes: Int, complete: Bool,
        compute: (Int) -> ComputeUse, cpuSeconds: Double?, readerCPUSeconds: Double?
    ) {
        func rate(_ amount: Double) -> Double { elapsed > 0 ? amount / elapsed : 0 }
        let devices = deviceNames.indices.map { device -> Device in
            let mine = records.filter { $0.device == device }
            let busy = mine.reduce(0) { $0 + $1.busySeconds }, wait = mine.reduce(0) { $0 + $1.waitSeconds }
            let tiles = mine.reduce(0) { $0 + $1.tiles }, held = mine.map(\.deviceBytes), use = compute(device)
            return Device(
                device: device, name: deviceNames[device], batches: mine.count, tiles: tiles, waitSeconds: wait, busySeconds: busy,
                averageBusySecondsPerBatch: mine.isEmpty ? 0 : busy / Double(mine.count),
                utilization: busy + wait > 0 ? busy / (busy + wait) : 0, tilesPerSecond: rate(Double(tiles)),
                averageMemoryBytesPerBatch: held.isEmpty ? 0 : held.reduce(0, +) / held.count, peakMemoryBytes: held.max() ?? 0,
                computeThreads: use.threads, computeCPUSeconds: use.cpuSeconds)
        }
        let tiles = records.reduce(0) { $0 + $1.tiles }, bytes = records.reduce(0) { $0 + $1.bytesRead }
        self.init(
            tiles: tiles, skippedTiles: records.reduce(0) { $0 + $1.skipped }, batches: records.count, elapsedSeconds: elapsed,
            tilesPerSecond: rate(Double(tiles)), bytesRead: bytes, megabytesPerSecond: rate(Double(bytes)) / 1e6,
            waitSeconds: records.reduce(0) { $0 + $1.waitSeconds }, busySeconds: records.reduce(0) { $0 + $1.busySeconds },
            readSeconds: records.reduce(0) { $0 + $1.readSeconds }, peakRSSBytes: peakRSSBytes, loaderPoolBytes: loaderPoolBytes,
            complete: complete, devices: devices, cpuSeconds: cpuSeconds, readerCPUSeconds: readerCPUSeconds)
    }
}
