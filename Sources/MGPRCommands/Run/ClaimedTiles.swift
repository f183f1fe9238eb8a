import Cluster
import Pipeline
import Synchronization

/// The loader's tiles under `share=claim`: the tiles of the chunk this rank holds, a new
/// chunk claimed when they run out. A batch is filled across a chunk's end only from a
/// chunk free at once: rank 0 waits for the last chunks only with an empty batch, never
/// holding tiles of its own that the wait would be for.
final class ClaimedTiles: TileFeed {
    let claims: ChunkClaims
    /// Rank 0's: wait for every chunk to be done (taking over any whose holder stops), since it gathers.
    let untilAllDone: Bool
    private let log: @Sendable (String) -> Void
    private let pending = Mutex<[Int]>([])

    init(claims: ChunkClaims, untilAllDone: Bool, log: @escaping @Sendable (String) -> Void) {
        (self.claims, self.untilAllDone, self.log) = (claims, untilAllDone, log)
    }

    var plannedCount: Int? { nil }

    func take(_ count: Int, stopped: () -> Bool) throws -> [Int] {
        var tiles: [Int] = []
        while tiles.count < count {
            var left = pending.withLock { $0 }
            if left.isEmpty {
                guard let chunk = try claims.next(untilAllDone: untilAllDone && tiles.isEmpty, stopped: stopped) else { break }
                if !chunk.takenFrom.isEmpty {
                    log("Took over chunk \(chunk.number) from rank\(chunk.takenFrom.count == 1 ? "" : "s") "
                        + "\(chunk.takenFrom.map(String.init).joined(separator: ", ")), whose lease expired: "
                        + "\(chunk.tiles.count) of its tiles not journaled")
                }
                left = chunk.tiles
            }
            let n = min(count - tiles.count, left.count)
            tiles += left.prefix(n)
            pending.withLock { $0 = Array(left.dropFirst(n)) }
        }
        return tiles
    }
}
