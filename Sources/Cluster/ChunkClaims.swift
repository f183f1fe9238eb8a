import Foundation
import Synchronization

/// One rank's side of `share=claim`: the next chunk to do, claimed on the ``ClaimBoard``
/// in schedule order, or taken over from a rank whose lease expired; and each chunk
/// marked done once every tile of it is journaled.
///
/// Exactly once: a chunk is claimed by one `link`, so one rank holds it; that rank
/// journals its tiles only while its lease holds. A rank taking a chunk over does only
/// the tiles no journal lists: those done before this launch, and those its earlier
/// holders journaled. The journals, not the claims, say what is done: a requeued job
/// starts a new board and continues from them.
public final class ChunkClaims: Sendable {
    public let schedule: ChunkSchedule
    public let board: ClaimBoard
    /// Tiles journaled before this launch.
    private let doneBefore: Set<Int>
    private let journal: @Sendable (Int) -> String
    /// Seconds between looks at the board while waiting for other ranks' chunks.
    public let poll: Double

    private struct State {
        var cursor = 0
        /// Tiles of each chunk this rank holds that are not yet journaled.
        var left: [Int: Int] = [:]
        var chunkOf: [Int: Int] = [:]
        var chunks = 0
        var takenOver = 0
        /// Holders of the claims seen.
        var holders: [ClaimBoard.Mark: Int] = [:]
    }
    private let state = Mutex(State())

    public init(
        schedule: ChunkSchedule, board: ClaimBoard, doneBefore: Set<Int>, journal: @escaping @Sendable (Int) -> String
    ) {
        (self.schedule, self.board, self.doneBefore, self.journal) = (schedule, board, doneBefore, journal)
        poll = min(0.25, board.lease / 4)
    }

    /// A chunk this rank now holds: its number and the tiles left to do.
    public struct Chunk: Sendable, Equatable {
        public var number: Int
        public var tiles: [Int]
        /// The ranks it was taken over from (empty for a fresh claim).
        public var takenFrom: [Int]
    }

    /// Chunks this rank claimed and took over so far.
    public var counts: (claimed: Int, takenOver: Int) { state.withLock { ($0.chunks, $0.takenOver) } }

    /// The next chunk with tiles left to do; nil when there is none. Unclaimed chunks come
    /// first, in schedule order. With `untilAllDone` (rank 0, which gathers), it then waits,
    /// looking every ``poll`` seconds, while other ranks hold chunks not yet done, and takes
    /// over any whose holder's lease expired; it returns nil only when every chunk is done
    /// (or `stopped` says so). Other ranks leave when nothing is free: rank 0 redoes the
    /// chunks of a rank that dies after that.
    public func next(untilAllDone: Bool, stopped: () -> Bool) throws(ClusterError) -> Chunk? {
        while let k = try claimFresh() {
            if let chunk = try begin(k, takenFrom: []) { return chunk }
        }
        var lastLeaseLook = -Double.infinity
        while !stopped() {
            let listing = try board.listing()
            let pending = (0..<schedule.count).filter { !listing.done.contains($0) }
            let own = state.withLock { Set($0.left.keys) }
            // What is left is this rank's own, in flight: it will see to it.
            if pending.allSatisfy(own.contains) { return nil }
            // A lease expires only after being watched for a whole one, so a rank that looks
            // once (any but rank 0) has no use for reading them; rank 0 reads them no more
            // often than they are renewed.
            let now = ClaimBoard.clock()
            let lookAtLeases = untilAllDone && now - lastLeaseLook >= board.lease / 6
            if lookAtLeases { lastLeaseLook = now }
            var expired: [Int: Bool] = [:]  // by holder: each lease read once per look
            for k in pending where !own.contains(k) {
                guard let generation = listing.claims[k] else {
                    // Unclaimed after all (a listing that lagged, or a chunk a claim skipped): claim it.
                    if try board.claim(k), let chunk = try begin(k, takenFrom: []) { return chunk }
                    continue
                }
                guard lookAtLeases, let holder = try holder(of: k, generation: generation) else { continue }
                if expired[holder] == nil { expired[holder] = try board.expired(.lease(rank: holder)) }
                guard expired[holder]!, try board.claim(k, generation: generation + 1) else { continue }
                var holders: Set<Int> = []
                for g in 0...generation { if let h = try self.holder(of: k, generation: g) { holders.insert(h) } }
                state.withLock { $0.takenOver += 1 }
                if let chunk = try begin(k, takenFrom: holders.subtracting([board.rank]).sorted()) { return chunk }
            }
            guard untilAllDone else { return nil }
            Thread.sleep(forTimeInterval: poll)
        }
        return nil
    }

    /// Who holds generation g of chunk k, read once: a claim's holder never changes.
    private func holder(of k: Int, generation g: Int) throws(ClusterError) -> Int? {
        if let known = state.withLock({ $0.holders[.claim(chunk: k, generation: g)] }) { return known }
        guard let rank = try board.holder(of: k, generation: g) else { return nil }
        state.withLock { $0.holders[.claim(chunk: k, generation: g)] = rank }
        return rank
    }

    /// The next chunk in schedule order that this rank's link claims; nil past the last.
    /// A claim lost to another rank means others claimed since this rank last did: it
    /// looks ahead 1, 2, 4, 8... chunks for one not yet claimed, then back by halves for
    /// the first such, one existence check each, so a claim costs a few operations
    /// whatever the number of ranks (a listing would grow with the board). A chunk passed
    /// over in a race is claimed by a rank further behind, or in the last round.
    private func claimFresh() throws(ClusterError) -> Int? {
        var k = state.withLock { $0.cursor }
        while k < schedule.count {
            if try board.claim(k) {
                state.withLock { $0.cursor = k + 1 }
                return k
            }
            var (claimed, step) = (k, 1)
            while claimed + step < schedule.count, try board.exists(.claim(chunk: claimed + step, generation: 0)) {
                claimed += step
                step *= 2
            }
            var free = min(claimed + step, schedule.count)  // claimed < first free <= free
            while free - claimed > 1 {
                let middle = (claimed + free) / 2
                if try board.exists(.claim(chunk: middle, generation: 0)) { claimed = middle } else { free = middle }
            }
            k = free
        }
        state.withLock { $0.cursor = k }
        return nil
    }

    /// Starts a held chunk: the tiles no journal lists (those done before this launch, and
    /// those its earlier holders journaled); a chunk with none left is marked done at once.
    private func begin(_ k: Int, takenFrom holders: [Int]) throws(ClusterError) -> Chunk? {
        var done = doneBefore
        for holder in holders {
            for entry in try Journal.entries(journal(holder), tileCount: schedule.tileCount) { done.insert(entry.tile) }
        }
        let tiles = schedule.tiles(of: k).filter { !done.contains($0) }
        state.withLock { $0.chunks += 1 }
        guard !tiles.isEmpty else {
            try board.markDone(k)
            return nil
        }
        state.withLock { s in
            s.left[k] = tiles.count
            for tile in tiles { s.chunkOf[tile] = k }
        }
        return Chunk(number: k, tiles: tiles, takenFrom: holders)
    }

    /// Before tiles are journaled: refuses once the lease may have been lost.
    public func checkLease() throws(ClusterError) {
        guard board.leaseHeld else {
            throw .leaseLost(path: (board.directory as NSString).appendingPathComponent("rank-\(board.rank)"),
                             seconds: board.secondsSinceRenewal, lease: board.lease)
        }
    }

    /// After tiles are journaled: a chunk whose last tile this was is marked done.
    public func journaled(_ tiles: [Int]) throws(ClusterError) {
        let finished: [Int] = state.withLock { s in
            var finished: [Int] = []
            for tile in tiles {
                guard let k = s.chunkOf.removeValue(forKey: tile), let left = s.left[k] else { continue }
                if left == 1 {
                    s.left[k] = nil
                    finished.append(k)
                } else {
                    s.left[k] = left - 1
                }
            }
            return finished
        }
        for k in finished { try board.markDone(k) }
    }
}
