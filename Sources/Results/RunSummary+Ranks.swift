import Foundation

extension RunSummary {
    /// `share=claim`: what claiming cost one rank, summed over ranks when combined.
    public struct Claims: Codable, Sendable, Equatable {
        /// Chunks the rank held (claimed fresh or taken over), and of those taken over.
        public var chunks: Int
        public var takenOver: Int
        /// File-system operations on the claims folder (a listing one per 100 names).
        public var operations: Int

        public init(chunks: Int, takenOver: Int, operations: Int) {
            (self.chunks, self.takenOver, self.operations) = (chunks, takenOver, operations)
        }

        enum CodingKeys: String, CodingKey {
            case chunks, operations
            case takenOver = "taken_over"
        }
    }

    /// One rank's part of a job, in the combined summary.
    public struct RankWork: Codable, Sendable, Equatable {
        public var rank: Int
        public var host: String
        public var tiles: Int
        /// Seconds between this rank's last tile and the job's last tile: how long it had
        /// nothing to do while another rank finished.
        public var idleAtEndSeconds: Double?

        public init(rank: Int, host: String, tiles: Int, idleAtEndSeconds: Double?) {
            (self.rank, self.host, self.tiles, self.idleAtEndSeconds) = (rank, host, tiles, idleAtEndSeconds)
        }

        enum CodingKeys: String, CodingKey {
            case rank, host, tiles
            case idleAtEndSeconds = "idle_at_end_seconds"
        }
    }

    /// Each rank's tiles and idle time at the end, from the ranks' own summaries (by rank
    /// and host): idle is measured from the job's last tile, over every rank that did one.
    public static func rankWork(_ parts: [(rank: Int, host: String, summary: RunSummary)]) -> [RankWork] {
        let end = parts.compactMap(\.summary.lastTileAt).max()
        return parts.sorted { $0.rank < $1.rank }.map { part in
            let idle: Double? = if let end, let last = part.summary.lastTileAt { max(0, end - last) } else { nil }
            return RankWork(rank: part.rank, host: part.host, tiles: part.summary.tiles, idleAtEndSeconds: idle)
        }
    }
}
