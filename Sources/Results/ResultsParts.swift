import Foundation
import Models
import Platform

/// The rows of every journaled tile, gathered from the ranks' parts: what the final
/// output, `mgpr merge` and the report read.
public struct ResultsParts: Sendable {
    /// The parts' format; nil when no part was found.
    public var format: PartFormat?
    /// Per tile, its rows as written.
    public var rows: [Int: [Substring]] = [:]
    /// Per tile, the part its rows are in (a segmentation's pixels are beside it).
    public var partPaths: [Int: String] = [:]

    public init(format: PartFormat? = nil, rows: [Int: [Substring]] = [:], partPaths: [Int: String] = [:]) {
        (self.format, self.rows, self.partPaths) = (format, rows, partPaths)
    }

    /// The detections, by tile (a detector's parts); `wholePixels`: coordinates truncated
    /// toward zero, as DeepForest's mosaic takes them.
    public func detections(wholePixels: Bool = false) -> [PlacedDetection] {
        rows.keys.sorted().flatMap { tile in
            rows[tile]!.compactMap { DetectionPart.detection(in: $0, tile: tile, wholePixels: wholePixels) }
        }
    }

    /// Per tile, how many boxes were found (a detector's parts).
    public var detectionCounts: [Int: Int] {
        rows.mapValues { $0.reduce(0) { $0 + (DetectionPart.detection(in: $1, tile: 0) == nil ? 0 : 1) } }
    }

    /// Per tile, its top class (a classifier's parts).
    public var topClasses: [Int: Int] { rows.compactMapValues { $0.last.flatMap(ClassificationPart.topClass) } }
}

/// One rank's results part read back as written, every whole line checked to be a row
/// of its format. A last line without its newline is a write a crash cut short: not
/// yet a row.
public struct WrittenPart: Sendable {
    public let path: String
    /// Nil for a part emptied by a crash before its header was written.
    public var format: PartFormat?
    /// Per tile, the rows of its last write. A tile written again (its journal line lost
    /// to a crash, so it was done again) keeps its later rows.
    public var rows: [Int: [Substring]] = [:]
    /// Per tile, the line its kept rows start at, for errors that name it.
    public var lines: [Int: Int] = [:]

    /// The part at `path`, or nil when there is none.
    public static func read(_ path: String) throws(ResultsError) -> WrittenPart? {
        let data: Data
        do {
            guard let contents = try RunFile.contents(path) else { return nil }
            data = contents
        } catch { throw .runFile(error) }
        guard let text = String(data: data, encoding: .utf8) else { throw .unreadable(path: path, reason: "not UTF-8 text") }
        var part = WrittenPart(path: path)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a row a crash cut short
        guard let first = lines.first else { return part }
        guard let format = PartFormat(header: first) else { throw .notAPart(path: path, firstLine: String(first.prefix(80))) }
        part.format = format
        var previous: Int?
        for (offset, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == format.fieldCount, let tile = Int(fields[0]), fields[1...4].allSatisfy({ Int($0) != nil }) else {
                throw .damagedRow(path: path, line: offset + 1, text: String(line.prefix(80)))
            }
            if tile != previous {  // a new write of this tile replaces an earlier one
                part.rows[tile] = []
                part.lines[tile] = offset + 1
            }
            part.rows[tile]!.append(line)
            previous = tile
        }
        return part
    }
}

public enum ResultsError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case notAPart(path: String, firstLine: String)
    case mixedParts(path: String, format: PartFormat, others: PartFormat)
    case damagedRow(path: String, line: Int, text: String)
    case writeFailed(path: String, reason: String)
    case runFile(RunFile.Failure)

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
        case .damagedRow(let path, let line, let text):
            "\(path) is damaged at line \(line) (\"\(text)\" is not a row mgpr wrote): "
                + "restore it, or delete it with its journal and rerun with resume=true to redo its tiles"
        case .writeFailed(let path, let reason): "writing \(path) failed: \(reason)"
        case .runFile(let failure): failure.description
        }
    }
}
