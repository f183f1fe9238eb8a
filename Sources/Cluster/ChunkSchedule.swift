/// How `share=claim` cuts a run's tiles into the chunks ranks claim, one after another.
///
/// Every rank computes the same schedule from the same three numbers, so chunk `k` names
/// the same tiles everywhere and a claim needs no other agreement.
/// - Tiles go in *units* of `unit` consecutive tiles (a batch: neighbours share the
///   raster's blocks, so a unit reads as fast as a row of the static share).
/// - Units are taken in bit-reversed order (0, 4, 2, 6, 1, 5, 3, 7 of 8): every stretch of
///   that order is spread over the whole raster, so no chunk is a block of rows, and the
///   ranks on an orthomosaic's empty collar and those on dense forest draw alike.
/// - Chunk sizes follow the work left: each takes `1 / (4 x ranks)` of the units not yet
///   in a chunk, and at least one unit. The first chunks are large (few claims while all
///   ranks are busy); the last are one unit, so the job's tail is one unit at the slowest
///   rank's speed. Four, not two (guided scheduling's usual factor), so that even a rank
///   four times slower than the rest ends its first chunk within the job's ideal time.
public struct ChunkSchedule: Sendable, Equatable {
    public let tileCount: Int
    /// Consecutive tiles per unit.
    public let unit: Int
    /// Each chunk's units, as positions in the bit-reversed order: chunk k covers
    /// `bounds[k]..<bounds[k + 1]`.
    private let bounds: [Int]
    private let order: [Int]

    /// Fewer chunks than any file system's limit on the links of one file (ext4: 65,000):
    /// every claim a rank makes is a link to its one lease file.
    public static let maxChunks = 50_000

    public init(tileCount: Int, worldSize: Int, unit requested: Int) {
        precondition(tileCount >= 0 && worldSize > 0 && requested > 0)
        self.tileCount = tileCount
        var unit = requested
        while true {
            let units = (tileCount + unit - 1) / unit
            let bounds = Self.bounds(units: units, worldSize: worldSize)
            if bounds.count - 1 <= Self.maxChunks {
                (self.unit, self.bounds, self.order) = (unit, bounds, Self.bitReversed(units))
                return
            }
            unit *= 2
        }
    }

    public var count: Int { bounds.count - 1 }

    /// The tiles of chunk `k`, ascending.
    public func tiles(of k: Int) -> [Int] {
        order[bounds[k]..<bounds[k + 1]].sorted().flatMap { u in (u * unit)..<min((u + 1) * unit, tileCount) }
    }

    /// How many units each chunk takes: a quarter of a rank's fair share of what is left.
    private static func bounds(units: Int, worldSize: Int) -> [Int] {
        var bounds = [0]
        var start = 0
        while start < units {
            let left = units - start
            start += max(1, left / (4 * worldSize))
            bounds.append(start)
        }
        return bounds
    }

    /// 0..<n in the order of their bits reversed (over the next power of two): any
    /// stretch of it samples the whole range evenly.
    static func bitReversed(_ n: Int) -> [Int] {
        guard n > 1 else { return Array(0..<n) }
        let bits = Int.bitWidth - (n - 1).leadingZeroBitCount
        return (0..<(1 << bits)).lazy.map { i in
            var reversed = 0
            for b in 0..<bits where i & (1 << b) != 0 { reversed |= 1 << (bits - 1 - b) }
            return reversed
        }.filter { $0 < n }
    }
}
