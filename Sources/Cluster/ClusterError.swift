import Foundation
import Platform

public enum ClusterError: Error, CustomStringConvertible, Equatable {
    case cannotWrite(path: String)
    case missingRanks(ranks: [Int], tilesNotDone: Int, listedIn: String, waited: Double)
    case incomplete(tilesNotDone: Int, listedIn: String)
    case noRunDirectory(launcher: String)
    case noRun(path: String)
    case unreadable(path: String, reason: String)
    case damagedStatus(path: String, bytes: Int)
    case writeFailed(path: String, reason: String)
    case runFile(RunFile.Failure)
    /// A journal line mgpr did not write (line 0: the whole file).
    case damagedJournal(path: String, line: Int, text: String, reason: String)
    /// Journaled tiles whose rows the part lacks, or holds fewer or more of than journaled.
    case rowsMissing(journal: String, part: String, tiles: [Int], detail: String)
    /// Rows that cannot be this run's: a tile outside its grid, another window, a skipped tile's.
    case foreignRows(part: String, line: Int, reason: String)
    case damagedWork(path: String, reason: String)
    case workMissing(path: String, tilesDone: Int)
    /// share=claim: an operation on the claims folder failed.
    case claimFailed(path: String, reason: String)
    /// share=claim: this rank's lease file is there already, from an earlier launch of the same name.
    case earlierLaunch(board: String, leaseFile: String)
    /// share=claim: the lease could not be renewed for half its time; other ranks may take this rank's claims.
    case leaseLost(path: String, seconds: Double, lease: Double)

    public var description: String {
        switch self {
        case .cannotWrite(let path): "cannot write \(path) (is the run directory on a writable, shared filesystem?)"
        case .missingRanks(let ranks, let count, let list, let waited):
            "rank\(ranks.count == 1 ? "" : "s") \(ranks.map(String.init).joined(separator: ", ")) did not finish "
                + "(no sign of life for \(Int(waited)) s; died, never started, or gather_timeout is too short): "
                + "\(counted(count, "tile")) not done, listed in \(list); rerun with resume=true to do just those"
        case .incomplete(let count, let list):
            "\(counted(count, "tile")) not done, listed in \(list); rerun with resume=true to do just those"
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
        case .runFile(let failure): failure.description
        case .damagedJournal(let path, let line, let text, let reason):
            "\(path) is damaged" + (line > 0 ? " at line \(line) (\"\(text.prefix(80))\": \(reason))" : " (\(reason))")
                + ": " + Self.redo(path)
        case .rowsMissing(let journal, let part, let tiles, let detail):
            "\(journal) lists \(tiles.count) tile\(tiles.count == 1 ? "" : "s") done (\(Self.list(tiles))) whose rows \(part) "
                + "\(detail): " + Self.redo(journal)
        case .foreignRows(let part, let line, let reason):
            "\(part) line \(line) is not this run's: \(reason); " + Self.redo(part)
        case .damagedWork(let path, let reason):
            "\(path) is damaged (\(reason)), so this resume cannot be checked to continue the same work: "
                + "restore it, or start afresh with another run_dir"
        case .claimFailed(let path, let reason):
            "share=claim: \(path): \(reason) (the run directory must be on a file system every rank writes; share=static needs no claims)"
        case .earlierLaunch(let board, let leaseFile):
            "share=claim: \(leaseFile) is there already: \(board) holds the claims of an earlier launch under the same name "
                + "(the same job, or torchrun run id), which this one would take for its own; give this run its own run_dir, "
                + "or remove \(board) if that launch is over"
        case .leaseLost(let path, let seconds, let lease):
            "share=claim: \(path) could not be renewed for \(Int(seconds)) s of its \(Int(lease)) s lease (a stalled file "
                + "system?): this rank stops before journaling tiles another rank may take over; the others do its chunks, "
                + "and resume=true continues from the journals"
        case .workMissing(let path, let done):
            "\(path) is missing though \(done) tile\(done == 1 ? " is" : "s are") done, so this resume cannot be checked "
                + "to continue the same work: restore it, or start afresh with another run_dir"
        }
    }

    /// How to recover a rank whose journal or part is damaged: redo its tiles.
    private static func redo(_ file: String) -> String {
        let folder = PathText.parent(of: file)
        return "restore it, or delete \(folder)/journal.txt and \(folder)/results.csv and rerun with resume=true to redo that rank's tiles"
    }

    /// Tiles for an error line: the first ten, then how many more.
    static func list(_ tiles: [Int]) -> String {
        let shown = tiles.prefix(10).map(String.init).joined(separator: ", ")
        return tiles.count > 10 ? "tiles \(shown) and \(tiles.count - 10) more" : "tile\(tiles.count == 1 ? "" : "s") \(shown)"
    }
}
