import Models

/// What a model says about one tile.
public enum TileOutput: Sendable, Equatable {
    case none
    /// The top-1 class index and its softmax probability.
    case classification(classIndex: Int, score: Float)
    /// Objects found, boxes in the tile's own pixels.
    case detections([Detection])
    /// A class id for every pixel of the tile's window.
    case segmentation(ClassMap)
}

/// A class id per pixel, row-major over a tile's window.
public struct ClassMap: Sendable, Equatable {
    /// The id of a pixel the raster holds no data for (the class raster's nodata).
    public static let missing = UInt16.max

    public var width: Int
    public var height: Int
    public var ids: [UInt16]

    public init(width: Int, height: Int, ids: [UInt16]) {
        precondition(ids.count == width * height, "\(ids.count) ids for \(width)x\(height)")
        (self.width, self.height, self.ids) = (width, height, ids)
    }

    /// The ids of the `width` x `height` region at (`x`, `y`), row-major.
    public func crop(x: Int, y: Int, width w: Int, height h: Int) -> [UInt16] {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop outside the map")
        var out: [UInt16] = []
        out.reserveCapacity(w * h)
        for row in y..<(y + h) { out.append(contentsOf: ids[(row * width + x)..<(row * width + x + w)]) }
        return out
    }
}
