import Foundation
import Platform
import Results

/// The tiles a rank has finished, one line each, appended and synced to disk after every
/// batch (after that batch's results), so a preempted run resumes where it stopped:
/// - `<tile> <rows> <digest>`: done, its results that many rows in the rank's results
///   part, whose bytes have that digest (``WrittenRows``, 16 hex digits);
/// - `<tile>`: done, its results not kept (`output=none`);
/// - `<tile> skipped`: left out for holding no data.
/// A tile in the journal has its results written; a tile whose results were written
/// but whose journal line was not is simply done again, and its later rows are kept.
public final class Journal: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private let handle: FileHandle

    public init(path: String) throws {
        self.path = path
        do {
            guard let fd = try RunFile.open(path, O_RDWR | O_CREAT | O_APPEND) else { throw ClusterError.cannotWrite(path: path) }
            handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            // A line cut short by a crash would run into the next tile's number.
            try CompleteLines.repair(handle)
        } catch let failure as RunFile.Failure {
            throw ClusterError.runFile(failure)
        } catch let error as ClusterError {
            throw error
        } catch {
            throw ClusterError.writeFailed(path: path, reason: SystemError.reason(error))
        }
    }

    /// Records `tiles` as done, each with the rows its results took (nil: not kept), and
    /// `skipped` as left out.
    public func record(_ tiles: [(tile: Int, rows: WrittenRows?)], skipped: [Int] = []) throws {
        let lines = tiles.map { "\($0.tile)\($0.rows.map { " \($0.count) \(Self.hex($0.digest))" } ?? "")\n" }
            + skipped.map { "\($0) \(Self.skippedMark)\n" }
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

    static func hex(_ digest: UInt64) -> String {
        let digits = String(digest, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// One line of a journal.
    public struct Entry: Equatable, Sendable {
        public var tile: Int
        /// What its results took in the part; nil when not kept (or skipped).
        public var rows: WrittenRows?
        public var skipped: Bool

        public init(tile: Int, rows: WrittenRows? = nil, skipped: Bool = false) {
            (self.tile, self.rows, self.skipped) = (tile, rows, skipped)
        }
    }

    /// The lines of the journal at `path` (none if it does not exist), each checked: a
    /// tile of the run's `tileCount`, listed once, in one of the three forms above. A
    /// last line cut short by a crash is not yet a line. Anything else is damage, named
    /// with its line: guessing around it would redo tiles or skip them.
    public static func entries(_ path: String, tileCount: Int) throws(ClusterError) -> [Entry] {
        let data: Data
        do {
            guard let contents = try RunFile.contents(path) else { return [] }
            data = contents
        } catch { throw .runFile(error) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .damagedJournal(path: path, line: 0, text: "", reason: "it is not text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a line a crash cut short
        var seen = Set<Int>()
        return try lines.enumerated().map { (number, line) throws(ClusterError) -> Entry in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            let entry: Entry? =
                switch fields.count {
                case 1: Int(fields[0]).map { Entry(tile: $0) }
                case 2 where fields[1] == skippedMark: Int(fields[0]).map { Entry(tile: $0, skipped: true) }
                case 3:
                    Int(fields[0]).flatMap { tile in
                        Int(fields[1]).flatMap { count in
                            fields[2].count == 16 && count >= 0
                                ? UInt64(fields[2], radix: 16).map { Entry(tile: tile, rows: WrittenRows(count: count, digest: $0)) } : nil
                        }
                    }
                default: nil
                }
            guard let entry else {
                throw .damagedJournal(path: path, line: number + 1, text: String(line), reason: "not a journal line")
            }
            guard (0..<tileCount).contains(entry.tile) else {
                throw .damagedJournal(
                    path: path, line: number + 1, text: String(line), reason: "the run has tiles 0 to \(tileCount - 1)")
            }
            guard seen.insert(entry.tile).inserted else {
                throw .damagedJournal(path: path, line: number + 1, text: String(line), reason: "tile \(entry.tile) is listed twice")
            }
            return entry
        }
    }
}
