import Foundation
import Results
import Tiling

/// What a run directory's ranks have done, read from their journals and results parts
/// and held to each other. Every journaled tile must have its rows in the part of the
/// rank that journaled it, as many and the same bytes as the journal says, for the
/// window the run's grid gives that tile. Rows without a journal line are a crash's (results written, journal
/// line not): their tiles are done again. Anything else is damage, and is named with its
/// file and tiles rather than merged into a shorter, or longer, output.
public struct RunRecords: Sendable {
    /// Every tile a journal lists, done or skipped.
    public var done: Set<Int> = []
    /// Of those, the tiles left out for holding no data.
    public var skipped: Set<Int> = []
    /// The rows of every journaled tile (for the ranks whose parts were read).
    public var parts = ResultsParts()

    /// Reads the journals of `ranks` and, for `partsOf` of them, their results parts.
    /// - Parameters:
    ///   - tileCount: the run's tiles; a tile outside 0..<tileCount is damage.
    ///   - window: the window the run's grid gives a tile, when known: rows for another
    ///     window are another run's.
    public static func read(
        _ layout: RunLayout, ranks: [Int], partsOf: [Int], tileCount: Int, window: ((Int) -> Window)?
    ) throws -> RunRecords {
        var records = RunRecords()
        var journaledBy: [Int: Int] = [:]
        var entries: [Int: [Journal.Entry]] = [:]
        for rank in ranks {
            entries[rank] = try Journal.entries(layout.journal(rank), tileCount: tileCount)
            for (line, entry) in entries[rank]!.enumerated() {
                if let other = journaledBy[entry.tile] {
                    throw ClusterError.damagedJournal(
                        path: layout.journal(rank), line: line + 1, text: "\(entry.tile)",
                        reason: "tile \(entry.tile) is also journaled in \(layout.journal(other))")
                }
                journaledBy[entry.tile] = rank
                records.done.insert(entry.tile)
                if entry.skipped { records.skipped.insert(entry.tile) }
            }
        }
        for rank in partsOf {
            let part = try WrittenPart.read(layout.results(rank))
            if let format = part?.format {
                if let earlier = records.parts.format, earlier != format {
                    throw ResultsError.mixedParts(path: layout.results(rank), format: format, others: earlier)
                }
                records.parts.format = format
            }
            try check(part, against: entries[rank] ?? [], journal: layout.journal(rank), partPath: layout.results(rank),
                      tileCount: tileCount, window: window)
            for entry in entries[rank] ?? [] where !entry.skipped && entry.rows?.count != 0 {
                records.parts.rows[entry.tile] = part?.rows[entry.tile]
                records.parts.partPaths[entry.tile] = layout.results(rank)
            }
        }
        return records
    }

    /// Holds one rank's part to its journal.
    private static func check(
        _ part: WrittenPart?, against entries: [Journal.Entry], journal: String, partPath: String, tileCount: Int,
        window: ((Int) -> Window)?
    ) throws {
        let rows = part?.rows ?? [:]
        for (tile, block) in rows {
            let line = part?.lines[tile] ?? 0
            guard (0..<tileCount).contains(tile) else {
                throw ClusterError.foreignRows(part: partPath, line: line, reason: "tile \(tile), and the run has tiles 0 to \(tileCount - 1)")
            }
            guard let expected = window?(tile) else { continue }
            for (offset, row) in block.enumerated() {
                let f = row.split(separator: ",", maxSplits: 5)
                let found = Window(colOff: Int(f[1])!, rowOff: Int(f[2])!, width: Int(f[3])!, height: Int(f[4])!)
                if found != expected {
                    throw ClusterError.foreignRows(
                        part: partPath, line: line + offset,
                        reason: "tile \(tile) at \(Self.text(found)), where this run's tile \(tile) is \(Self.text(expected))")
                }
            }
        }
        let done = entries.filter { !$0.skipped && $0.rows?.count != 0 }
        let lacking = done.filter { rows[$0.tile] == nil }.map(\.tile)
        if !lacking.isEmpty {
            let detail = part == nil ? "should hold, but it does not exist" : "lacks"
            throw ClusterError.rowsMissing(journal: journal, part: partPath, tiles: lacking, detail: detail)
        }
        let altered = done.filter { entry in entry.rows.map { WrittenRows(rows: rows[entry.tile]!) != $0 } ?? false }
        if let first = altered.first, let journaled = first.rows {
            let found = rows[first.tile]!.count
            throw ClusterError.rowsMissing(
                journal: journal, part: partPath, tiles: altered.map(\.tile),
                detail: "holds otherwise than written (tile \(first.tile): \(found) row\(found == 1 ? "" : "s")"
                    + (found == journaled.count ? " as journaled, their bytes changed)" : ", journaled \(journaled.count))"))
        }
        if let tile = entries.first(where: { $0.skipped && rows[$0.tile] != nil })?.tile {
            throw ClusterError.foreignRows(
                part: partPath, line: part?.lines[tile] ?? 0, reason: "rows for tile \(tile), which the journal says held no data")
        }
    }

    private static func text(_ w: Window) -> String { "column \(w.colOff), row \(w.rowOff), \(w.width)x\(w.height) px" }
}
