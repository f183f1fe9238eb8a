import Foundation

/// What happened to one batch: the row of `metrics.csv`.
public struct BatchRecord: Sendable {
    public var batch: Int
    public var device: Int
    public var tiles: Int
    /// Tiles of the batch left out because they held no data (skip_empty).
    public var skipped: Int = 0
    /// Seconds the device waited for this batch (the data path's cost to the device).
    public var waitSeconds: Double
    /// Seconds reader threads spent reading and decoding it (overlaps device work).
    public var readSeconds: Double
    /// Seconds the device spent on it (model forward).
    public var busySeconds: Double
    /// Seconds spent writing its results and journal lines, after the model.
    public var writeSeconds: Double = 0
    /// Of `busySeconds`, those in the network (transform and plans); the rest is the
    /// model's post-processing (a detector's proposals, decoding, NMS).
    public var networkSeconds: Double = 0
    /// Of `busySeconds`, those copying tiles to the device and results back, where the
    /// model tells them apart.
    public var copySeconds: Double = 0
    /// The rest of `busySeconds`: the model's own steps after (and between) the network's.
    public var postprocessSeconds: Double { max(0, busySeconds - networkSeconds - copySeconds) }
    public var bytesRead: Int
    /// Seconds since the run started, when the batch finished.
    public var finishedAt: Double
    /// Process peak resident memory when it finished.
    public var peakRSSBytes: Int
    /// Memory the device held for this batch: the model's (weights, arena) and the batch's.
    public var deviceBytes: Int

    public init(
        batch: Int, device: Int, tiles: Int, skipped: Int = 0, waitSeconds: Double, readSeconds: Double, busySeconds: Double,
        writeSeconds: Double = 0, networkSeconds: Double = 0, copySeconds: Double = 0, bytesRead: Int, finishedAt: Double,
        peakRSSBytes: Int, deviceBytes: Int
    ) {
        (self.batch, self.device, self.tiles, self.skipped) = (batch, device, tiles, skipped)
        (self.waitSeconds, self.readSeconds, self.busySeconds, self.writeSeconds) = (waitSeconds, readSeconds, busySeconds, writeSeconds)
        (self.networkSeconds, self.copySeconds, self.bytesRead, self.finishedAt) = (networkSeconds, copySeconds, bytesRead, finishedAt)
        (self.peakRSSBytes, self.deviceBytes) = (peakRSSBytes, deviceBytes)
    }

    /// The header of `metrics.csv`: columns are only ever added at the end.
    public static let csvHeader =
        "batch,device,tiles,wait_s,read_s,busy_s,bytes_read,finished_at_s,peak_rss_bytes,device_bytes,skipped,write_s,network_s,copy_s,postprocess_s"

    public var csvRow: String {
        [
            "\(batch)", "\(device)", "\(tiles)", fmt(waitSeconds), fmt(readSeconds), fmt(busySeconds),
            "\(bytesRead)", fmt(finishedAt), "\(peakRSSBytes)", "\(deviceBytes)", "\(skipped)", fmt(writeSeconds), fmt(networkSeconds),
            fmt(copySeconds), fmt(postprocessSeconds),
        ].joined(separator: ",")
    }

    private func fmt(_ v: Double) -> String { String(format: "%.6f", v) }
}

extension BatchRecord {
    /// A `metrics.csv` read back by its header, so files from before a column existed
    /// still read (a missing `network_s` was all network: `busy_s`). Unreadable files and
    /// rows read as none: the metrics describe a run, they are not its results.
    public static func read(metricsCSV path: String) -> [BatchRecord] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n")
        guard let header = lines.first?.split(separator: ",").map(String.init) else { return [] }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        return lines.dropFirst().compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            func double(_ name: String) -> Double { column(name).flatMap { $0 < f.count ? Double(f[$0]) : nil } ?? 0 }
            func int(_ name: String) -> Int { column(name).flatMap { $0 < f.count ? Int(f[$0]) : nil } ?? 0 }
            guard f.count == header.count || f.count >= 10 else { return nil }
            return BatchRecord(
                batch: int("batch"), device: int("device"), tiles: int("tiles"), skipped: int("skipped"), waitSeconds: double("wait_s"),
                readSeconds: double("read_s"), busySeconds: double("busy_s"), writeSeconds: double("write_s"),
                networkSeconds: column("network_s") == nil ? double("busy_s") : double("network_s"), copySeconds: double("copy_s"),
                bytesRead: int("bytes_read"), finishedAt: double("finished_at_s"), peakRSSBytes: int("peak_rss_bytes"),
                deviceBytes: int("device_bytes"))
        }
    }
}

extension BatchRecord {
    /// The run's steady part, in its seconds: from the finish of the last batch of the
    /// first tenth (at least two batches: plans built, cuDNN's search, the pool filling)
    /// to the finish of the last batch. Nil with too few batches to leave any out.
    /// The benchmarks' steady tiles/s count the same batches.
    public static func steadyWindow(_ records: [BatchRecord]) -> ClosedRange<Double>? {
        let finished = records.map(\.finishedAt).sorted()
        let skip = max(2, finished.count / 10)
        guard finished.count > skip + 1 else { return nil }
        return finished[skip - 1]...finished[finished.count - 1]
    }
}
