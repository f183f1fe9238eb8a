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
    /// Each class's softmax probability, one row-major plane per class; empty unless the
    /// run keeps probabilities (`probabilities`, `stitch=blend`).
    public var probabilities: [Float]

    public init(width: Int, height: Int, ids: [UInt16], probabilities: [Float] = []) {
        precondition(ids.count == width * height, "\(ids.count) ids for \(width)x\(height)")
        precondition(probabilities.count % max(width * height, 1) == 0, "probabilities are not whole planes")
        (self.width, self.height, self.ids, self.probabilities) = (width, height, ids, probabilities)
    }

    /// Classes the probabilities cover (0 when there are none).
    public var classes: Int { width * height == 0 ? 0 : probabilities.count / (width * height) }

    /// The ids of the `width` x `height` region at (`x`, `y`), row-major.
    public func crop(x: Int, y: Int, width w: Int, height h: Int) -> [UInt16] {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop outside the map")
        var out: [UInt16] = []
        out.reserveCapacity(w * h)
        for row in y..<(y + h) { out.append(contentsOf: ids[(row * width + x)..<(row * width + x + w)]) }
        return out
    }

    /// The probabilities of the same region, class after class.
    public func cropProbabilities(x: Int, y: Int, width w: Int, height h: Int) -> [Float] {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop outside the map")
        var out: [Float] = []
        out.reserveCapacity(classes * w * h)
        for c in 0..<classes {
            let plane = c * width * height
            for row in y..<(y + h) { out.append(contentsOf: probabilities[(plane + row * width + x)..<(plane + row * width + x + w)]) }
        }
        return out
    }
}
