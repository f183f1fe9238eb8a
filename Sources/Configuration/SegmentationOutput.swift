/// `stitch`: how a segmentation's overlapping windows become one class raster.
public enum Stitch: String, Sendable, Codable {
    /// Each pixel from the window in which it lies farthest from an edge: every pixel
    /// written once, no seam.
    case center
    /// Each pixel from the windows' softmax outputs, weighted by a tent that falls
    /// towards each window's edges.
    case blend
}

/// `probabilities`: whether a segmentation also writes its per-class probabilities.
public enum ProbabilityOutput: String, Sendable, Codable {
    case none
    /// One UInt8 band per class, the probability times 254 (GDAL's band scale says so),
    /// 255 where nothing was predicted.
    case byte
    /// One Float32 band per class, NaN where nothing was predicted.
    case float

    /// From the key's value: false, true or float.
    public init?(setting: String) {
        switch setting {
        case "false": self = .none
        case "true": self = .byte
        case "float": self = .float
        default: return nil
        }
    }
}
