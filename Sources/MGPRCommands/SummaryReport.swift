import CUDA
import Engine
import Foundation
import Pipeline
import Results
import Platform

/// The end-of-run report in the seed's shape (a block per device, then the totals).
enum SummaryReport {
    /// The device kind of a gathered summary, from its devices' names ("Rank 1 GPU 0 (...)").
    static func kind(of s: RunSummary) -> DeviceKind {
        s.devices.contains { $0.name.split(separator: " ").contains("GPU") } ? .gpu : .cpu
    }

    static func text(_ s: RunSummary, deviceKind: DeviceKind) -> String {
        let total = Double(ProcessMemory.physicalBytes)
        func gb(_ bytes: Int) -> String {
            String(format: "%.2f GB (%.2f%%)", Double(bytes) / 1e9, total > 0 ? Double(bytes) / total * 100 : 0)
        }
        var lines = ["\(deviceKind) Usage Summary:"]
        for d in s.devices {
            lines += [
                "\(d.name):",
                "  Average Memory Usage per Batch: \(gb(d.averageMemoryBytesPerBatch))",
                "  Peak Memory Usage: \(gb(d.peakMemoryBytes)) (model weights, arena and batch; process peak RSS \(gb(s.peakRSSBytes)))",
                String(format: "  Average Utilization per Batch: %.2f%%", d.utilization * 100),
                String(format: "  Average Busy Time per Batch: %.4f s", d.averageBusySecondsPerBatch),
                String(format: "  Throughput: %.2f tiles/s (%@ in %@)", d.tilesPerSecond, counted(d.tiles, "tile"), counted(d.batches, "batch", plural: "batches")),
            ]
            if deviceKind == .cpu, let threads = d.computeThreads, let seconds = d.computeCPUSeconds {
                lines.append(String(format: "  Compute Threads Used: %d (%.1f s of CPU time)", threads, seconds))
            }
            if let utilization = d.nvmlUtilization, let peak = d.nvmlPeakMemoryBytes {
                let steady = d.nvmlSteadyUtilization.map { String(format: " (%.1f%% over the steady batches)", $0 * 100) } ?? ""
                lines.append(String(format: "  GPU Utilization (NVML): %.1f%% mean%@, %.0f%% max; GPU memory in use (NVML) peak %@; mgpr's allocations peak %@",
                                    utilization * 100, steady, (d.nvmlMaxUtilization ?? 0) * 100,
                                    String(format: "%.2f GB", Double(peak) / 1e9), String(format: "%.2f GB", Double(d.allocatorPeakBytes ?? 0) / 1e9)))
            }
        }
        lines.append(
            String(
                format: "Data: %@, %@, %.1f MB read (%.1f MB/s), %.2f tiles/s; devices waited %.2f s for data, worked %.2f s",
                counted(s.tiles, "tile"), counted(s.batches, "batch", plural: "batches"), Double(s.bytesRead) / 1e6, s.megabytesPerSecond, s.tilesPerSecond,
                s.waitSeconds, s.busySeconds))
        if let cpu = s.cpuSeconds, let cores = s.coresBusy {
            lines.append(String(
                format: "CPU time: %.1f s over %.1f s elapsed (%.2f cores busy on average), readers %.1f s",
                cpu, s.elapsedSeconds, cores, s.readerCPUSeconds ?? 0))
        }
        if let skipped = s.skippedTiles, skipped > 0 {
            lines.append("Skipped: \(counted(skipped, "tile")) held no data (skip_empty=true) and did not reach the model")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Each rank's tiles and idle time at the end, and under share=claim what claiming cost.
    static func ranks(_ ranks: [RunSummary.RankWork], claims: RunSummary.Claims?, tiles: Int) -> String {
        var lines = [claims.map { c in
            String(format: "Ranks (share=claim: %@, %d taken over, %d claim operations, %.3f per tile):",
                   counted(c.chunks, "chunk"), c.takenOver, c.operations, tiles > 0 ? Double(c.operations) / Double(tiles) : 0)
        } ?? "Ranks (share=static):"]
        for r in ranks {
            lines.append("  Rank \(r.rank) (\(r.host)): \(counted(r.tiles, "tile"))"
                + (r.idleAtEndSeconds.map { String(format: ", idle %.2f s at the end", $0) } ?? ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `profiler=simple`: where the time went, as Lightning's simple profiler tabulates it.
    static func profile(_ s: RunSummary, records: [BatchRecord]) -> String {
        func row(_ name: String, _ values: [Double]) -> String {
            let total = values.reduce(0, +)
            let mean = values.isEmpty ? 0 : total / Double(values.count)
            return String(format: "%-28@| %12.6f | %8d | %12.4f", name, mean, values.count, total)
        }
        return [
            "Profiler report",
            String(format: "%-28@| %12@ | %8@ | %12@", "Action", "Mean (s)", "Calls", "Total (s)"),
            String(repeating: "-", count: 68),
            row("read batch (readers)", records.map(\.readSeconds)),
            row("wait for batch (devices)", records.map(\.waitSeconds)),
            row("predict (devices)", records.map(\.busySeconds)),
            String(format: "%-28@| %12@ | %8@ | %12.4f", "run", "", "", s.elapsedSeconds),
        ].joined(separator: "\n") + "\n"
    }
}
