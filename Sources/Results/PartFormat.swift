/// The kinds of results part a rank writes, each owned by one type: a classifier's
/// rows (``ClassificationPart``) or a detector's (``DetectionPart``). A part's first
/// line says which; this is the one place that reads it.
public enum PartFormat: Sendable, Equatable {
    case classification
    case detection

    /// The format whose header is `line`, or nil when it is no part's.
    public init?(header line: Substring) {
        switch line {
        case ClassificationPart.header: self = .classification
        case DetectionPart.header: self = .detection
        default: return nil
        }
    }

    public var header: String {
        switch self {
        case .classification: ClassificationPart.header
        case .detection: DetectionPart.header
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
        }
    }

    /// A writer of this format's part at `path`, continuing it when `append` (a resume).
    public func sink(path: String, append: Bool) throws -> any ResultsSink {
        switch self {
        case .classification: try ClassificationPart(path: path, append: append)
        case .detection: try DetectionPart(path: path, append: append)
        }
    }
}
