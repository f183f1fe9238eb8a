import Foundation
import Platform
import Results
import Testing
import Tiling
@testable import Cluster

/// Journals and results parts held to each other, on run directories written by hand:
/// what a crash leaves is repaired or redone, anything else is named.
@Suite("Run records: journals and parts vouch for each other")
struct RunRecordsTests {
    static func runDirectory() throws -> RunLayout {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-records-\(UUID().uuidString.prefix(8))").path
        let layout = RunLayout(root: path)
        for rank in 0..<2 { try layout.prepare(rank: rank) }
        return layout
    }

    /// A 2x2 grid of 10 px tiles.
    static func window(_ tile: Int) -> Window { Window(colOff: tile % 2 * 10, rowOff: tile / 2 * 10, width: 10, height: 10) }

    /// A detector's rows for `tile`: `boxes` detections, or the one empty row.
    static func rows(_ tile: Int, boxes: Int) -> String {
        let w = window(tile), prefix = "\(tile),\(w.colOff),\(w.rowOff),10,10"
        return boxes == 0 ? "\(prefix),,,,,,\n" : (0..<boxes).map { "\(prefix),1,1,5,5,0,0.\($0 + 1)\n" }.joined()
    }

    /// The journal line of a tile whose rows are `text`.
    static func line(_ tile: Int, _ text: String) -> String {
        let rows = WrittenRows(text: text)
        return "\(tile) \(rows.count) \(Journal.hex(rows.digest))\n"
    }

    static func write(_ text: String, _ path: String) throws { try text.write(toFile: path, atomically: false, encoding: .utf8) }

    func read(_ layout: RunLayout, parts: [Int] = [0, 1]) throws -> RunRecords {
        try RunRecords.read(layout, ranks: [0, 1], partsOf: parts, tileCount: 4, window: Self.window)
    }

    /// Rank 0 did tiles 0 (2 boxes) and 1 (none); rank 1 did tile 2 (1 box) and skipped 3.
    func whole() throws -> RunLayout {
        let layout = try Self.runDirectory()
        try Self.write(Self.line(0, Self.rows(0, boxes: 2)) + Self.line(1, Self.rows(1, boxes: 0)), layout.journal(0))
        try Self.write(DetectionPart.header + "\n" + Self.rows(0, boxes: 2) + Self.rows(1, boxes: 0), layout.results(0))
        try Self.write(Self.line(2, Self.rows(2, boxes: 1)) + "3 skipped\n", layout.journal(1))
        try Self.write(DetectionPart.header + "\n" + Self.rows(2, boxes: 1), layout.results(1))
        return layout
    }

    @Test("a whole run reads back: every tile done, the skipped one known, each tile's rows")
    func wholeRun() throws {
        let records = try read(try whole())
        #expect(records.done == [0, 1, 2, 3] && records.skipped == [3])
        #expect(records.parts.format == .detection)
        #expect(records.parts.rows.mapValues(\.count) == [0: 2, 1: 1, 2: 1])
    }

    @Test("what a crash leaves is not damage: a cut last line, rows not yet journaled, a tile written twice")
    func crashes() throws {
        let layout = try whole()
        // Tile 1 written, its journal line lost, then written again and journaled (its later rows
        // are kept); tile 3's rows written but not journaled; each file's last line cut.
        try Self.write(Self.line(0, Self.rows(0, boxes: 2)) + Self.line(1, Self.rows(1, boxes: 2)) + "1", layout.journal(0))
        try Self.write(
            DetectionPart.header + "\n" + Self.rows(0, boxes: 2) + Self.rows(1, boxes: 0) + Self.rows(3, boxes: 1)
                + Self.rows(1, boxes: 2) + "3,10,1", layout.results(0))
        try Self.write(Self.line(2, Self.rows(2, boxes: 1)), layout.journal(1))
        let records = try read(layout)
        #expect(records.done == [0, 1, 2])
        #expect(records.parts.rows.mapValues(\.count) == [0: 2, 1: 2, 2: 1])
    }

    /// Applies `damage` to a whole run and expects the read to fail naming `file` and saying `says`.
    func expectDamage(_ says: String, in file: (RunLayout) -> String, _ damage: (RunLayout) throws -> Void) throws {
        let layout = try whole()
        try damage(layout)
        #expect {
            try read(layout)
        } throws: { error in
            let text = "\(error)"
            return text.contains(file(layout)) && text.contains(says) && !text.contains("\n")
        }
    }

    @Test("a part deleted, emptied, cut or grown is named with its file and tiles")
    func partDamage() throws {
        try expectDamage("should hold, but it does not exist", in: { $0.results(0) }) { try FileManager.default.removeItem(atPath: $0.results(0)) }
        try expectDamage("lists 2 tiles done (tiles 0, 1) whose rows", in: { $0.results(0) }) { try Self.write("", $0.results(0)) }
        try expectDamage("lists 1 tile done (tile 1) whose rows", in: { $0.journal(0) }) { layout in
            try Self.write(DetectionPart.header + "\n" + Self.rows(0, boxes: 2) + "1,10,0,1", layout.results(0))
        }
        try expectDamage("holds otherwise than written (tile 0: 1 row, journaled 2)", in: { $0.results(0) }) { layout in
            try Self.write(DetectionPart.header + "\n" + Self.rows(0, boxes: 1) + Self.rows(1, boxes: 0), layout.results(0))
        }
        try expectDamage("(tile 0: 2 rows as journaled, their bytes changed)", in: { $0.journal(0) }) { layout in
            let altered = Self.rows(0, boxes: 2).replacingOccurrences(of: "0.2", with: "0.9")
            try Self.write(DetectionPart.header + "\n" + altered + Self.rows(1, boxes: 0), layout.results(0))
        }
        try expectDamage("line 5 is not this run's: tile 7", in: { $0.results(0) }) { layout in
            try Self.write(try String(contentsOfFile: layout.results(0), encoding: .utf8) + "7,0,0,10,10,,,,,,\n", layout.results(0))
        }
        try expectDamage("tile 1 at column 0, row 0, 10x10 px, where this run's tile 1 is column 10", in: { $0.results(0) }) { layout in
            try Self.write(DetectionPart.header + "\n" + Self.rows(0, boxes: 2) + "1,0,0,10,10,,,,,,\n", layout.results(0))
        }
        try expectDamage("which the journal says held no data", in: { $0.results(1) }) { layout in
            try Self.write(DetectionPart.header + "\n" + Self.rows(2, boxes: 1) + Self.rows(3, boxes: 1), layout.results(1))
        }
        try expectDamage("holds tiles but other ranks' parts hold detections", in: { $0.results(1) }) { layout in
            try Self.write(ClassificationPart.header + "\n", layout.results(1))
        }
        try expectDamage("is a symbolic link", in: { $0.results(0) }) { layout in
            try FileManager.default.moveItem(atPath: layout.results(0), toPath: layout.results(0) + ".saved")
            try FileManager.default.createSymbolicLink(atPath: layout.results(0), withDestinationPath: layout.results(0) + ".saved")
        }
    }

    @Test("a journal with garbage, a tile twice or outside the grid, or a link is named with its line")
    func journalDamage() throws {
        let zero = Self.line(0, Self.rows(0, boxes: 2)), one = Self.line(1, Self.rows(1, boxes: 0))
        try expectDamage("at line 2 (\"zz\": not a journal line)", in: { $0.journal(0) }) { try Self.write(zero + "zz\n" + one, $0.journal(0)) }
        try expectDamage("at line 3 (\"1 1 ", in: { $0.journal(0) }) { try Self.write(zero + one + one, $0.journal(0)) }
        try expectDamage("tile 1 is listed twice", in: { $0.journal(0) }) { try Self.write(zero + one + one, $0.journal(0)) }
        try expectDamage("(\"9 1 0000000000000000\": the run has tiles 0 to 3)", in: { $0.journal(1) }) { layout in
            try Self.write(Self.line(2, Self.rows(2, boxes: 1)) + "9 1 0000000000000000\n", layout.journal(1))
        }
        try expectDamage("tile 2 is also journaled in", in: { $0.journal(1) }) { layout in
            try Self.write(zero + one + Self.line(2, Self.rows(2, boxes: 1)), layout.journal(0))
        }
        for bad in ["1 -1 0000000000000000", "1 1", "1 1 123", "1 1 000000000000000g", "1  1 0000000000000000"] {
            try expectDamage("(\"\(bad)\": not a journal line)", in: { $0.journal(0) }) { try Self.write(zero + bad + "\n", $0.journal(0)) }
        }
        try expectDamage("(it is not text)", in: { $0.journal(0) }) { try Data([0x30, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: $0.journal(0))) }
        try expectDamage("is a symbolic link", in: { $0.journal(1) }) { layout in
            try FileManager.default.removeItem(atPath: layout.journal(1))
            try FileManager.default.createSymbolicLink(atPath: layout.journal(1), withDestinationPath: layout.journal(0))
        }
    }

    @Test("a journal without row counts (results not kept) still needs its tiles' rows when parts are read")
    func uncounted() throws {
        let layout = try whole()
        try Self.write("0\n1\n", layout.journal(0))
        #expect(try read(layout).done == [0, 1, 2, 3])
        try FileManager.default.removeItem(atPath: layout.results(0))
        #expect(try read(layout, parts: [1]).parts.rows.keys.sorted() == [2])
        #expect(throws: ClusterError.self) { try read(layout) }
    }

    @Test("the journal writes what it reads back, appends after a cut line, and refuses a link")
    func journalRoundTrip() throws {
        let layout = try Self.runDirectory()
        try Self.write("0\n2", layout.journal(0))
        let journal = try Journal(path: layout.journal(0))
        try journal.record([(1, WrittenRows(count: 2, digest: 0xAB)), (3, nil)], skipped: [2])
        journal.close()
        #expect(try String(contentsOfFile: layout.journal(0), encoding: .utf8) == "0\n1 2 00000000000000ab\n3\n2 skipped\n")
        #expect(try Journal.entries(layout.journal(0), tileCount: 4) == [
            .init(tile: 0), .init(tile: 1, rows: WrittenRows(count: 2, digest: 0xAB)), .init(tile: 3), .init(tile: 2, skipped: true),
        ])
        try FileManager.default.createSymbolicLink(atPath: layout.journal(1), withDestinationPath: layout.journal(0))
        #expect { try Journal(path: layout.journal(1)) } throws: { "\($0)".contains("is a symbolic link") }
        try FileManager.default.removeItem(atPath: layout.journal(1))
        #expect(mkfifo(layout.journal(1), 0o644) == 0)
        #expect { try Journal(path: layout.journal(1)) } throws: { "\($0)".contains("is a FIFO (named pipe), not a file mgpr wrote") }
    }

    @Test("a damaged work record or status is an error naming it, not a missing one")
    func damagedRecords() throws {
        let layout = try Self.runDirectory()
        #expect(try layout.readWork() == nil)
        try layout.write(WorkIdentity(["model": "resnet50"]))
        #expect(try layout.readWork() == WorkIdentity(["model": "resnet50"]))
        try Self.write("{\"fields\": {\"model\"", layout.workFile)
        #expect { try layout.readWork() } throws: { "\($0)".contains("\(layout.workFile) is damaged") }
        try FileManager.default.removeItem(atPath: layout.workFile)
        try FileManager.default.createSymbolicLink(atPath: layout.workFile, withDestinationPath: "/etc/hostname")
        #expect { try layout.readWork() } throws: { "\($0)".contains("is a symbolic link") }
        try FileManager.default.createSymbolicLink(atPath: layout.status(0), withDestinationPath: "/etc/hostname")
        #expect { try layout.checkedStatus(0) } throws: { "\($0)".contains("\(layout.status(0)) is a symbolic link") }
    }
}
