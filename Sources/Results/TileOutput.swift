import Models

/// What a model says about one tile.
public enum TileOutput: Sendable, Equatable {
    case none
    /// The top-1 class index and its softmax probability.
    case classification(classIndex: Int, score: Float)
    /// Objects found, boxes in the tile's own pixels.
    case detections([Detection])
}
