import Tiling

/// Where a rank's results go as batches finish: one row per tile or per box, in its part file.
public protocol ResultsSink: Sendable {
    /// Writes the outputs of `tiles`, in the same order; returns the rows each took,
    /// which the journal records so that the part can be held to it.
    func write(_ tiles: [TileInfo], _ outputs: [TileOutput]) throws -> [WrittenRows]
    func close() throws
}
