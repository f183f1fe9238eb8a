import Foundation
import Synchronization
import Testing
@testable import Cluster

/// share=claim on a real folder: ranks racing for chunks each get distinct ones, every
/// chunk ends done, and a rank that stops renewing has its chunks taken over, less the
/// tiles it journaled.
@Suite("Claim board", .serialized)
struct ClaimBoardTests {
    static func folder() -> RunLayout {
        RunLayout(root: FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-claims-\(UUID().uuidString.prefix(8))").path)
    }

    static func claims(_ layout: RunLayout, rank: Int, ranks: Int, tiles: Int, lease: Double = 60, done: Set<Int> = []) throws -> ChunkClaims {
        let board = try ClaimBoard(directory: layout.claimsDirectory(launch: "test"), rank: rank, lease: lease)
        return ChunkClaims(
            schedule: ChunkSchedule(tileCount: tiles, worldSize: ranks, unit: 2), board: board, doneBefore: done,
            journal: { layout.journal($0) })
    }

    @Test("eight ranks racing on one board: every tile handed out once, every chunk marked done")
    func race() throws {
        let layout = Self.folder()
        let ranks = 8, tiles = 2000
        let handed = Mutex<[Int: [Int]]>([:])
        let failures = Mutex<[String]>([])
        let all = try (0..<ranks).map { try Self.claims(layout, rank: $0, ranks: ranks, tiles: tiles) }
        // A thread of its own per rank, all let go at once (a shared pool may run them one
        // after another on a busy machine, and then one rank would rightly take every chunk).
        let go = DispatchSemaphore(value: 0), finished = DispatchGroup()
        for rank in 0..<ranks {
            finished.enter()
            Thread.detachNewThread {
                defer { finished.leave() }
                go.wait()
                do {
                    while let chunk = try all[rank].next(untilAllDone: rank == 0, stopped: { false }) {
                        handed.withLock { $0[rank, default: []] += chunk.tiles }
                        Thread.sleep(forTimeInterval: 0.002)  // the chunk's work, so that ranks overlap
                        try all[rank].journaled(chunk.tiles)
                    }
                } catch { failures.withLock { $0.append("rank \(rank): \(error)") } }
            }
        }
        for _ in 0..<ranks { go.signal() }
        finished.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let byRank = handed.withLock { $0 }
        #expect(byRank.values.flatMap { $0 }.sorted() == Array(0..<tiles))
        #expect(byRank.count >= 2, "more than one rank got work: \(byRank.mapValues(\.count))")
        let listing = try all[0].board.listing()
        #expect(listing.done == Set(0..<all[0].schedule.count) && listing.leases == Set(0..<ranks))
        let operations = all.map(\.board.operations).reduce(0, +)
        #expect(operations < tiles, "\(operations) operations for \(tiles) tiles")
    }

    @Test("a rank that stops renewing loses its chunk after the lease; the taker does only the tiles not journaled")
    func takeOver() throws {
        let layout = Self.folder()
        try layout.prepare(rank: 0)
        try layout.prepare(rank: 1)
        let dead = try Self.claims(layout, rank: 1, ranks: 2, tiles: 40, lease: 1)
        let chunk = try #require(try dead.next(untilAllDone: false, stopped: { false }))
        // It journaled its first two tiles, then died (never renewing, as a killed process).
        let journal = try Journal(path: layout.journal(1))
        try journal.record(chunk.tiles.prefix(2).map { ($0, nil) })
        journal.close()

        let alive = try Self.claims(layout, rank: 0, ranks: 2, tiles: 40, lease: 1)
        alive.board.startRenewing()
        defer { alive.board.stop() }
        var mine: [ChunkClaims.Chunk] = []
        let started = Date()
        while let next = try alive.next(untilAllDone: true, stopped: { false }) {
            mine.append(next)
            try alive.journaled(next.tiles)
        }
        let taken = try #require(mine.first { $0.number == chunk.number })
        #expect(taken.takenFrom == [1])
        #expect(taken.tiles == Array(chunk.tiles.dropFirst(2)))
        #expect(Set(mine.flatMap(\.tiles)).union(chunk.tiles.prefix(2)) == Set(0..<40))
        #expect(Date().timeIntervalSince(started) >= 1, "not before a whole lease")
        #expect(alive.counts.takenOver == 1)
    }

    @Test("a rank whose lease went unrenewed for half of it may not journal")
    func fence() throws {
        let claims = try Self.claims(Self.folder(), rank: 0, ranks: 1, tiles: 4, lease: 2)
        try claims.checkLease()
        Thread.sleep(forTimeInterval: 1.1)
        #expect(throws: ClusterError.self) { try claims.checkLease() }
        claims.board.renew()
        try claims.checkLease()
    }

    @Test("tiles done before this launch are not handed out again; a chunk with none left is marked done at once")
    func doneBefore() throws {
        let layout = Self.folder()
        let claims = try Self.claims(layout, rank: 0, ranks: 1, tiles: 20, done: Set(0..<15))
        var handed: [Int] = []
        while let chunk = try claims.next(untilAllDone: true, stopped: { false }) {
            handed += chunk.tiles
            try claims.journaled(chunk.tiles)
        }
        #expect(handed.sorted() == Array(15..<20))
        #expect(try claims.board.listing().done.count == claims.schedule.count)
    }

    @Test("a lease file of this rank already on the board is an earlier launch's: refused, naming it")
    func earlierLaunch() throws {
        let layout = Self.folder()
        _ = try Self.claims(layout, rank: 3, ranks: 4, tiles: 8)
        #expect(throws: ClusterError.earlierLaunch(
            board: layout.claimsDirectory(launch: "test"), leaseFile: layout.claimsDirectory(launch: "test") + "/rank-3")
        ) { _ = try Self.claims(layout, rank: 3, ranks: 4, tiles: 8) }
    }

    @Test("names on the board read back as the marks they are; anything else is ignored")
    func names() {
        for mark: ClaimBoard.Mark in [.claim(chunk: 12, generation: 0), .claim(chunk: 3, generation: 2), .done(chunk: 7), .lease(rank: 5)] {
            #expect(ClaimBoard.mark(Substring(ClaimBoard.name(mark))) == mark)
        }
        for other in ["c", "c1.0", "c1.x", "dx", "rank-", "rank-0.tmp.123", "x"] { #expect(ClaimBoard.mark(Substring(other)) == nil, "\(other)") }
    }
}
