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
