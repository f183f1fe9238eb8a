import Results

/// A network as the pipeline sees it: a batch in, one output per tile out.
/// Each device worker owns its own model instance (its own plan and buffers), so
/// a model need not be thread-safe.
public protocol TileModel {
    /// Runs the batch's first `batch.count` tiles.
    func predict(_ batch: Batch) throws -> [TileOutput]
    /// Bytes of memory the model itself holds on its device (weights and arena).
    var deviceBytes: Int { get }
    /// Of the last `predict`, the seconds in the network (transform and plans); the rest
    /// is post-processing. A model that does not tell is all network.
    var lastNetworkSeconds: Double? { get }
    /// Of the last `predict`, the seconds copying tiles to the device and results back
    /// (nil: none, or not told apart from the rest).
    var lastCopySeconds: Double? { get }
}

extension TileModel {
    public var lastNetworkSeconds: Double? { nil }
    public var lastCopySeconds: Double? { nil }
}

/// `model=none`: no network. Batches are delivered and dropped, so a run measures
/// whether the data path alone can keep devices fed.
public struct NoModel: TileModel {
    public init() {}
    public func predict(_ batch: Batch) throws -> [TileOutput] { Array(repeating: .none, count: batch.count) }
    public var deviceBytes: Int { 0 }
}
