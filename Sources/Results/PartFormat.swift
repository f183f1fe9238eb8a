import Tiling
/// The kinds of results part a rank writes, each owned by one type: a classifier's
/// rows (``ClassificationPart``) or a detector's (``DetectionPart``). A part's first
/// line says which; this is the one place that reads it.
public enum PartFormat: Sendable, Equatable {
    case classification
    case detection
    case segmentation

    /// The format whose header is `line`, or nil when it is no part's.
    public init?(header line: Substring) {
        switch line {
        case ClassificationPart.header: self = .classification
        case DetectionPart.header: self = .detection
        case SegmentationPart.header: self = .segmentation
        default: return nil
        }
    }

    public var header: String {
        switch self {
        case .classification: ClassificationPart.header
        case .detection: DetectionPart.header
        case .segmentation: SegmentationPart.header
        }
    }

    /// Fields in each row: the tile and its window, then what the model found.
    public var fieldCount: Int { header.split(separator: ",").count }

    /// What the rows of the final output are, for the log ("12 tiles written"), one and many.
    public var rowName: String { String(rowNoun.dropLast()) }

    public var rowNoun: String {
        switch self {
        case .classification: "tiles"
        case .detection: "detections"
        case .segmentation: "tiles"
        }
    }

    /// A writer of this format's part at `path`, continuing it when `append` (a resume);
    /// `segmentation` is where each tile's pixels go and what is kept of them (a segmentation's).
    public func sink(path: String, append: Bool, segmentation: SegmentationLayout?) throws -> any ResultsSink {
        switch self {
        case .classification: return try ClassificationPart(path: path, append: append)
        case .detection: return try DetectionPart(path: path, append: append)
        case .segmentation:
            guard let segmentation else { preconditionFailure("a segmentation part needs the raster's grid") }
            return try SegmentationPart(path: path, append: append, layout: segmentation)
        }
    }
}
