import Foundation
import Results
import Tiling

/// Rank 0's last step (and `mgpr merge`'s only one): wait for every rank's status, merge
/// the results parts into the one output file, and check that every tile was done.
public struct Gather {
    public let layout: RunLayout
    public let worldSize: Int
    /// Seconds without any sign of life (a status, a journal growing) before a rank is
    /// declared lost.
    public let timeout: Double
    /// Only statuses of this attempt count (nil: any, for `mgpr merge` after the fact).
    public let attempt: Int?

    public init(layout: RunLayout, worldSize: Int, timeout: Double, attempt: Int?) {
        (self.layout, self.worldSize, self.timeout, self.attempt) = (layout, worldSize, timeout, attempt)
    }

    /// What waiting for the ranks came to.
    public struct Waited {
        public var statuses: [RankStatus]
        /// Ranks that gave no sign of life for `timeout` seconds.
        public var missing: [Int]
        /// Ranks still being waited for when `stopRequested` said to stop.
        public var stoppedWaitingFor: [Int] = []
        /// Ranks not waited for, having nothing left to do (share=claim: every chunk is
        /// done, and they never joined or stopped renewing their lease).
        public var absent: [Int] = []
    }

    /// Waits for a final status from every rank; returns those that came and those that did
    /// not. `stopRequested` is asked four times a second (a signal during the wait); a
    /// damaged status fails at once, naming the file. A rank for which `worthWaiting` says
    /// false is not waited for, and listed as absent.
    public func waitForRanks(
        log: (String) -> Void, stopRequested: () -> Bool = { false }, worthWaiting: (Int) throws(ClusterError) -> Bool = { _ in true }
    ) throws(ClusterError) -> Waited {
        var lastLife = [Int: (size: Int, at: Double)]()
        var announced = false
        while true {
            let now = Date().timeIntervalSince1970
            var statuses: [RankStatus] = []
            var waiting: [Int] = []
            var absent: [Int] = []
            for rank in 0..<worldSize {
                if let status = try layout.checkedStatus(rank), status.state.isFinal, attempt == nil || status.attempt == attempt {
                    statuses.append(status)
                    continue
                }
                if try !worthWaiting(rank) {
                    absent.append(rank)
                    continue
                }
                let size = (try? FileManager.default.attributesOfItem(atPath: layout.journal(rank))[.size] as? Int) ?? -1
                if lastLife[rank] == nil || lastLife[rank]!.size != size { lastLife[rank] = (size, now) }
                waiting.append(rank)
            }
            if waiting.isEmpty { return Waited(statuses: statuses, missing: [], absent: absent) }
            let lost = waiting.filter { now - lastLife[$0]!.at > timeout }
            if lost.count == waiting.count { return Waited(statuses: statuses, missing: lost, absent: absent) }
            if stopRequested() { return Waited(statuses: statuses, missing: [], stoppedWaitingFor: waiting, absent: absent) }
            if !announced {
                log("Waiting for rank\(waiting.count == 1 ? "" : "s") \(waiting.map(String.init).joined(separator: ", ")) to finish")
                announced = true
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// Every rank's journal and, when `parts`, results part, held to each other.
    public func records(parts: Bool, tileCount: Int, window: ((Int) -> Window)?) throws -> RunRecords {
        let ranks = layout.ranksPresent
        return try RunRecords.read(layout, ranks: ranks, partsOf: parts ? ranks : [], tileCount: tileCount, window: window)
    }

    /// The tiles no journal lists, written one per line to missing_tiles.txt (removed when none).
    public func missingTiles(_ records: RunRecords, tileCount: Int) -> [Int] {
        let missing = (0..<tileCount).filter { !records.done.contains($0) }
        if missing.isEmpty {
            try? FileManager.default.removeItem(atPath: layout.missingTiles)
        } else {
            try? missing.map(String.init).joined(separator: "\n").appending("\n")
                .write(toFile: layout.missingTiles, atomically: true, encoding: .utf8)
        }
        return missing
    }
}
