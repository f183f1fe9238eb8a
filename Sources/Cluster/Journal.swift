import Foundation
import Platform

/// The tiles a rank has finished, one index per line (`<index> skipped` for a tile left
/// out because it held no data), appended and synced to disk after every batch (after
/// that batch's results), so a preempted run resumes where it stopped.
/// A tile in the journal has its results written; a tile whose results were written
/// but whose journal line was not is simply done again, and merging keeps one row.
public final class Journal: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private let handle: FileHandle

    public init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ClusterError.cannotWrite(path: path)
            }
        }
        // A line cut short by a crash would run into the next tile's number.
        try CompleteLines.repair(path)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ClusterError.cannotWrite(path: path) }
        try handle.seekToEnd()
        self.handle = handle
    }

    public func record(_ tiles: [Int], skipped: [Int] = []) throws {
        let lines = tiles.map { "\($0)\n" } + skipped.map { "\($0) \(Self.skippedMark)\n" }
        try lock.withLock {
            do {
                try handle.write(contentsOf: Data(lines.joined().utf8))
                try handle.synchronize()
            } catch {
                throw ClusterError.writeFailed(path: path, reason: SystemError.reason(error))
            }
        }
    }

    public func close() { lock.withLock { try? handle.close() } }

    static let skippedMark = "skipped"

    /// The tiles listed in the journal at `path` (none if it does not exist), done or
    /// skipped. A last line cut short by a crash is ignored.
    public static func read(_ path: String) -> Set<Int> { Set(entries(path).map(\.tile)) }

    /// The tiles the journal at `path` lists as skipped for holding no data.
    public static func skipped(_ path: String) -> Set<Int> { Set(entries(path).filter(\.skipped).map(\.tile)) }

    private static func entries(_ path: String) -> [(tile: Int, skipped: Bool)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.last != "\n" { lines = lines.dropLast() }
        return lines.compactMap { line in
            let parts = line.split(separator: " ")
            guard let first = parts.first, let tile = Int(first), parts.count <= 2 else { return nil }
            if parts.count == 2 { return parts[1] == skippedMark ? (tile, true) : nil }
            return (tile, false)
        }
    }
}

public enum ClusterError: Error, CustomStringConvertible, Equatable {
    case cannotWrite(path: String)
    case missingRanks(ranks: [Int], tilesNotDone: Int, listedIn: String, waited: Double)
    case incomplete(tilesNotDone: Int, listedIn: String)
    case noRunDirectory(launcher: String)
    case noRun(path: String)
    case unreadable(path: String, reason: String)
    case damagedStatus(path: String, bytes: Int)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path): "cannot write \(path) (is the run directory on a writable, shared filesystem?)"
        case .missingRanks(let ranks, let count, let list, let waited):
            "rank\(ranks.count == 1 ? "" : "s") \(ranks.map(String.init).joined(separator: ", ")) did not finish "
                + "(no sign of life for \(Int(waited)) s; died, never started, or gather_timeout is too short): "
                + "\(count) tiles not done, listed in \(list); rerun with resume=true to do just those"
        case .incomplete(let count, let list):
            "\(count) tiles not done, listed in \(list); rerun with resume=true to do just those"
        case .noRunDirectory(let launcher):
            "several \(launcher) ranks need one run directory they all agree on: set run_dir (on a shared filesystem)"
        case .noRun(let path): "\(path) holds no mgpr run (no rank-*/ folders)"
        case .writeFailed(let path, let reason): "writing \(path) failed: \(reason)"
        case .damagedStatus(let path, let bytes):
            "\(path) is damaged (\(bytes) bytes that are not a status mgpr wrote): "
                + "delete it and run that rank again with resume=true"
        case .unreadable(let path, let reason):
            "cannot read \(path) (\(reason)): its tiles' results would be missing from the output; "
                + "restore it, or delete it with its journal and rerun with resume=true to redo them"
        }
    }
}
