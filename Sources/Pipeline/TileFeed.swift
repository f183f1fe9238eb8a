import Synchronization

/// Where the loader's tiles come from, batch by batch: a fixed plan (one rank's share),
/// or claims on a board shared with other ranks, made as the readers need tiles.
public protocol TileFeed: Sendable {
    /// Up to `count` tiles to read next, in order; empty when there are no more. Called by
    /// one reader at a time. May wait (for other ranks' chunks); `stopped` says when the
    /// run was stopped, and the feed should then return at once.
    func take(_ count: Int, stopped: () -> Bool) throws -> [Int]
    /// Tiles this feed will hand out in all, when known in advance.
    var plannedCount: Int? { get }
}

/// A fixed list of tiles, handed out in order.
public final class PlannedTiles: TileFeed {
    public let plan: [Int]
    private let next = Mutex(0)

    public init(_ plan: [Int]) { self.plan = plan }

    public var plannedCount: Int? { plan.count }

    public func take(_ count: Int, stopped: () -> Bool) -> [Int] {
        next.withLock { start in
            let end = min(start + count, plan.count)
            defer { start = end }
            return Array(plan[start..<end])
        }
    }
}
