import Testing
@testable import Cluster

/// share=claim's schedule: every tile in one chunk, chunks shrinking with the work left,
/// each spread over the raster.
@Suite("Chunk schedule")
struct ChunkScheduleTests {
    @Test("every tile is in exactly one chunk, for any tile count, rank count and unit", arguments: [1, 2, 7, 64, 1000])
    func everyTileOnce(ranks: Int) {
        for tiles in [0, 1, 5, 63, 64, 999, 10_000] {
            for unit in [1, 4, 16] {
                let schedule = ChunkSchedule(tileCount: tiles, worldSize: ranks, unit: unit)
                let all = (0..<schedule.count).flatMap(schedule.tiles(of:))
                #expect(all.sorted() == Array(0..<tiles), "\(tiles) tiles, \(ranks) ranks, unit \(unit)")
                #expect((0..<schedule.count).allSatisfy { !schedule.tiles(of: $0).isEmpty })
            }
        }
    }

    @Test("chunks start at a quarter of a rank's share and shrink to one unit")
    func sizes() {
        let schedule = ChunkSchedule(tileCount: 10_000, worldSize: 8, unit: 16)
        let sizes = (0..<schedule.count).map { schedule.tiles(of: $0).count }
        // 625 units: the first chunk 625 / 32 = 19 units, 304 tiles.
        #expect(sizes.first == 19 * 16)
        #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $0 >= $1 || $1 < 16 }, "\(sizes)")
        #expect(sizes.last! <= 16 && sizes.suffix(8).allSatisfy { $0 <= 16 }, "the tail is single units: \(sizes.suffix(10))")
        #expect(schedule.count < 200, "\(schedule.count) chunks: few claims per tile")
    }

    @Test("a chunk is spread over the raster, not a block of rows")
    func interleaved() {
        let schedule = ChunkSchedule(tileCount: 4096, worldSize: 4, unit: 8)
        let first = schedule.tiles(of: 0)
        #expect(first.count == 32 * 8)
        // Its units sit 1/32 of the raster apart, from the first row to the last.
        #expect(first.min()! < 200 && first.max()! > 3800, "\(first.min()!)...\(first.max()!)")
        let starts = stride(from: 0, to: first.count, by: 8).map { first[$0] }
        #expect(Set(zip(starts, starts.dropFirst()).map { $1 - $0 }) == [128])
    }

    @Test("bit-reversed order is a permutation for any length")
    func bitReversal() {
        #expect(ChunkSchedule.bitReversed(8) == [0, 4, 2, 6, 1, 5, 3, 7])
        for n in [0, 1, 2, 3, 5, 100, 1025] { #expect(ChunkSchedule.bitReversed(n).sorted() == Array(0..<n)) }
    }

    @Test("more chunks than a file's link limit allows make the units larger")
    func chunkLimit() {
        let schedule = ChunkSchedule(tileCount: 4_000_000, worldSize: 4096, unit: 1)
        #expect(schedule.count <= ChunkSchedule.maxChunks && schedule.unit > 1, "\(schedule.count) chunks of unit \(schedule.unit)")
    }
}
