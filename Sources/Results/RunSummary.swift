/// What a finished run measured, overall and per device; written as `summary.json`.
public struct RunSummary: Codable, Sendable {
    public struct Device: Codable, Sendable {
        public var device: Int
        public var name: String
        public var batches: Int
        public var tiles: Int
        /// Seconds the device waited for data, and spent working, in total.
        public var waitSeconds: Double
        public var busySeconds: Double
        public var averageBusySecondsPerBatch: Double
        /// Busy time over busy + waiting time: how well the data path kept it fed.
        public var utilization: Double
        public var tilesPerSecond: Double
        /// Memory the device held for the run: model (weights, arena) plus its batches.
        public var averageMemoryBytesPerBatch: Int
        public var peakMemoryBytes: Int
        /// On a GPU: NVML's mean and highest utilisation (0...1) over the run, its mean
        /// over the steady batches (``BatchRecord/steadyWindow(_:)``), the most memory in
        /// use on it (all processes), and mgpr's own allocator's peak.
        public var nvmlUtilization: Double?
        public var nvmlMaxUtilization: Double?
        public var nvmlSteadyUtilization: Double?
        public var nvmlPeakMemoryBytes: Int?
        public var allocatorPeakBytes: Int?
        /// Threads that did this device's work (its device threads and the OpenMP
        /// workers they started), measured from their CPU time, and that time: on a CPU,
        /// what `cpu_threads` actually gave it. Absent in older summaries.
        public var computeThreads: Int?
        public var computeCPUSeconds: Double?
    }

    public var tiles: Int
    /// Tiles left out because they held no data (skip_empty); absent in older summaries.
    public var skippedTiles: Int?
    public var batches: Int
    public var elapsedSeconds: Double
    public var tilesPerSecond: Double
    public var bytesRead: Int
    public var megabytesPerSecond: Double
    public var waitSeconds: Double
    public var busySeconds: Double
    public var readSeconds: Double
    public var peakRSSBytes: Int
    public var loaderPoolBytes: Int
    public var complete: Bool
    public var devices: [Device]
    /// The process's CPU time (user + system) over the run, every thread's, and the
    /// readers' share of it. Absent in older summaries.
    public var cpuSeconds: Double?
    public var readerCPUSeconds: Double?
    /// The final results file and the rows written to it (boxes after the cross-tile
    /// merge, or tiles), once the ranks are gathered; absent before, and in a rank's own.
    public var resultsPath: String? = nil
    public var resultsWritten: Int? = nil
    /// Wall-clock times (Unix seconds) at which this attempt started predicting and its
    /// last tile finished; absent in older summaries and combined ones.
    public var startedAt: Double? = nil
    public var lastTileAt: Double? = nil
    /// share=claim: chunks and file-system operations (summed over ranks when combined).
    public var claims: Claims? = nil
    /// In a job's combined summary: each rank's tiles and idle time at the end.
    public var ranks: [RankWork]? = nil

    /// Cores kept busy on average: CPU time over elapsed time.
    public var coresBusy: Double? {
        cpuSeconds.flatMap { elapsedSeconds > 0 ? $0 / elapsedSeconds : nil }
    }

    enum CodingKeys: String, CodingKey {
        case tiles, batches, complete, devices
        case skippedTiles = "skipped_tiles"
        case elapsedSeconds = "elapsed_seconds"
        case tilesPerSecond = "tiles_per_second"
        case bytesRead = "bytes_read"
        case megabytesPerSecond = "megabytes_per_second"
        case waitSeconds = "wait_seconds"
        case busySeconds = "busy_seconds"
        case readSeconds = "read_seconds"
        case peakRSSBytes = "peak_rss_bytes"
        case loaderPoolBytes = "loader_pool_bytes"
        case cpuSeconds = "cpu_seconds"
        case readerCPUSeconds = "reader_cpu_seconds"
        case resultsPath = "results_path"
        case resultsWritten = "results_written"
        case startedAt = "started_at"
        case lastTileAt = "last_tile_at"
        case claims, ranks
    }
}

extension RunSummary.Device {
    enum CodingKeys: String, CodingKey {
        case device, name, batches, tiles, utilization
        case waitSeconds = "wait_seconds"
        case busySeconds = "busy_seconds"
        case averageBusySecondsPerBatch = "average_busy_seconds_per_batch"
        case tilesPerSecond = "tiles_per_second"
        case averageMemoryBytesPerBatch = "average_memory_bytes_per_batch"
        case peakMemoryBytes = "peak_memory_bytes"
        case nvmlUtilization = "nvml_utilization"
        case nvmlMaxUtilization = "nvml_max_utilization"
        case nvmlSteadyUtilization = "nvml_steady_utilization"
        case nvmlPeakMemoryBytes = "nvml_peak_memory_bytes"
        case allocatorPeakBytes = "allocator_peak_bytes"
        case computeThreads = "compute_threads"
        case computeCPUSeconds = "compute_cpu_seconds"
    }
}

extension RunSummary {
    /// This attempt's summary added to an earlier attempt's of the same run (a resumed
    /// run): counts and times summed, peaks the larger, devices matched by number.
    public func continuing(_ earlier: RunSummary) -> RunSummary {
        var total = self
        total.addWork(of: earlier)
        total.complete = complete  // this attempt did what the earlier ones left
        total.elapsedSeconds += earlier.elapsedSeconds
        total.loaderPoolBytes = max(loaderPoolBytes, earlier.loaderPoolBytes)
        total.updateRates()
        let elapsed = total.elapsedSeconds
        for old in earlier.devices {
            guard let i = total.devices.firstIndex(where: { $0.device == old.device }) else {
                total.devices.append(old)
                continue
            }
            var d = total.devices[i]
            let batches = d.batches + old.batches
            d.averageMemoryBytesPerBatch =
                batches > 0 ? (d.averageMemoryBytesPerBatch * d.batches + old.averageMemoryBytesPerBatch * old.batches) / batches : 0
            d.batches = batches
            d.tiles += old.tiles
            d.waitSeconds += old.waitSeconds
            d.busySeconds += old.busySeconds
            d.averageBusySecondsPerBatch = batches > 0 ? d.busySeconds / Double(batches) : 0
            d.utilization = d.busySeconds + d.waitSeconds > 0 ? d.busySeconds / (d.busySeconds + d.waitSeconds) : 0
            d.tilesPerSecond = elapsed > 0 ? Double(d.tiles) / elapsed : 0
            d.peakMemoryBytes = max(d.peakMemoryBytes, old.peakMemoryBytes)
            d.computeThreads = [d.computeThreads, old.computeThreads].compactMap { $0 }.max()
            d.computeCPUSeconds = Self.sum(d.computeCPUSeconds, old.computeCPUSeconds)
            total.devices[i] = d
        }
        return total
    }
}

extension RunSummary {
    /// Adds the work `other` did (tiles, batches, bytes, times); the peak RSS is the
    /// larger. Elapsed time, the pool and the devices are the caller's to combine.
    public mutating func addWork(of other: RunSummary) {
        tiles += other.tiles
        skippedTiles = (skippedTiles ?? 0) + (other.skippedTiles ?? 0)
        batches += other.batches
        bytesRead += other.bytesRead
        waitSeconds += other.waitSeconds
        busySeconds += other.busySeconds
        readSeconds += other.readSeconds
        cpuSeconds = Self.sum(cpuSeconds, other.cpuSeconds)
        readerCPUSeconds = Self.sum(readerCPUSeconds, other.readerCPUSeconds)
        peakRSSBytes = max(peakRSSBytes, other.peakRSSBytes)
        complete = complete && other.complete
    }

    /// A sum of measurements that older summaries may lack: what was measured.
    static func sum(_ a: Double?, _ b: Double?) -> Double? {
        a == nil && b == nil ? nil : (a ?? 0) + (b ?? 0)
    }

    /// Throughput from the totals and the elapsed time.
    public mutating func updateRates() {
        tilesPerSecond = elapsedSeconds > 0 ? Double(tiles) / elapsedSeconds : 0
        megabytesPerSecond = elapsedSeconds > 0 ? Double(bytesRead) / elapsedSeconds / 1e6 : 0
    }
}
