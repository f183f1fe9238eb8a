import Foundation
import Models
import Platform

/// Every rank's results part read back and grouped by tile: what the final output,
/// `mgpr merge` and the report read.
public struct ResultsParts: Sendable {
    /// The parts' format; nil when no part was found.
    public var format: PartFormat?
    /// Per tile, its rows as written. A tile done twice (its results written, its
    /// journal line lost to a preemption) keeps the rows of its last attempt.
    public var rows: [Int: [Substring]] = [:]

    public init(format: PartFormat? = nil, rows: [Int: [Substring]] = [:]) {
        (self.format, self.rows) = (format, rows)
    }

    /// Reads the parts at `paths`; a missing file is a rank that wrote nothing yet.
    /// A part that exists but cannot be read, or is not a part, fails, naming the file:
    /// skipping it would write a shorter output and call it done.
    public static func read(_ paths: [String]) throws(ResultsError) -> ResultsParts {
        var parts = ResultsParts()
        for path in paths where FileManager.default.fileExists(atPath: path) {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw .unreadable(path: path, reason: SystemError.reason(error))
            }
            var lines = text.split(separator: "\n")[...]
            guard let first = lines.popFirst() else { continue }  // emptied by a crash before its header: redone on resume
            guard let format = PartFormat(header: first) else { throw .notAPart(path: path, firstLine: String(first.prefix(80))) }
            if let earlier = parts.format, earlier != format { throw .mixedParts(path: path, format: format, others: earlier) }
            parts.format = format
            var previous: Int?
            for line in lines {
                guard let tile = Int(line.prefix { $0 != "," }) else { continue }
                if tile != previous { parts.rows[tile] = [] }  // a new write of this tile replaces an earlier one
                parts.rows[tile]!.append(line)
                previous = tile
            }
        }
        return parts
    }

    /// The detections, by tile (a detector's parts).
    public var detections: [PlacedDetection] {
        rows.keys.sorted().flatMap { tile in rows[tile]!.compactMap { DetectionPart.detection(in: $0, tile: tile) } }
    }

    /// Per tile, how many boxes were found (a detector's parts).
    public var detectionCounts: [Int: Int] {
        rows.mapValues { $0.reduce(0) { $0 + (DetectionPart.detection(in: $1, tile: 0) == nil ? 0 : 1) } }
    }

    /// Per tile, its top class (a classifier's parts).
    public var topClasses: [Int: Int] { rows.compactMapValues { $0.last.flatMap(ClassificationPart.topClass) } }
}

public enum ResultsError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case notAPart(path: String, firstLine: String)
    case mixedParts(path: String, format: PartFormat, others: PartFormat)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read \(path) (\(reason)): its tiles' results would be missing from the output; "
                + "restore it, or delete it with its journal and rerun with resume=true to redo them"
        case .notAPart(let path, let line):
            "cannot read \(path): its first line is not a results part's header (\"\(line)\"); "
                + "restore it, or delete it with its journal and rerun with resume=true to redo its tiles"
        case .mixedParts(let path, let format, let others):
            "\(path) holds \(format.rowNoun) but other ranks' parts hold \(others.rowNoun): "
                + "the run directory mixes two runs; give each run its own run_dir"
        case .writeFailed(let path, let reason): "writing \(path) failed: \(reason)"
        }
    }
}
