import Foundation
import Engine
import Models
import Results
import Testing
import Tiling

@Suite("Results parts, written and read back")
struct ResultsPartsTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-results-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func tile(_ index: Int) -> TileInfo {
        TileInfo(index: index, window: Window(colOff: index * 100, rowOff: 50, width: 100, height: 100),
                 transform: GeoTransform(originX: 1000 + Double(index) * 10, originY: 2000, pixelSize: 0.1))
    }

    @Test("detections come back by tile in the raster's pixels; a tile written again keeps its last rows; an empty tile counts none")
    func detections() throws {
        let path = try Self.folder() + "/results.csv"
        let part = try DetectionPart(path: path)
        let box = Detection(box: Box(1, 2, 11, 22), label: 3, score: 0.75)
        let first = try part.write([Self.tile(0), Self.tile(1)], [.detections([box, box]), .detections([])])
        #expect(first.map(\.count) == [2, 1])
        let again = try part.write([Self.tile(0)], [.detections([box])])  // tile 0 again: a resumed batch
        #expect(again.map(\.count) == [1])
        try part.close()

        #expect(try WrittenPart.read(path + ".absent") == nil)
        let written = try #require(try WrittenPart.read(path))
        #expect(written.lines == [0: 5, 1: 4])
        // What the journal records is what reads back, and tells the two writes of tile 0 apart.
        #expect(WrittenRows(rows: written.rows[0]!) == again[0] && WrittenRows(rows: written.rows[1]!) == first[1])
        #expect(first[0].digest != again[0].digest)
        let parts = ResultsParts(format: written.format, rows: written.rows)
        #expect(parts.format == .detection)
        #expect(parts.detectionCounts == [0: 1, 1: 0])
        let found = parts.detections()
        #expect(found.count == 1)
        #expect(found.first?.detection.box == Box(1, 52, 11, 72))  // tile 0 sits at column 0, row 50
        #expect(found.first?.window == Window(colOff: 0, rowOff: 50, width: 100, height: 100))
        #expect(found.first?.detection.label == 3 && found.first?.detection.score == 0.75)
    }

    @Test("a classifier's part gives each tile's top class; its rows are the final CSV's")
    func classes() throws {
        let folder = try Self.folder()
        let part = try ClassificationPart(path: folder + "/results.csv")
        let rows = try part.write(
            [Self.tile(0), Self.tile(1)], [.classification(classIndex: 7, score: 0.5), .classification(classIndex: 2, score: 0.9)])
        #expect(rows.map(\.count) == [1, 1])
        try part.close()
        let part0 = try #require(try WrittenPart.read(folder + "/results.csv"))
        let parts = ResultsParts(format: part0.format, rows: part0.rows)
        #expect(parts.format == .classification)
        #expect(parts.topClasses == [0: 7, 1: 2])
        #expect(try FinalResults.write(parts, to: folder + "/classes.csv", raster: nil, labels: nil) == 2)
        let written = try String(contentsOfFile: folder + "/classes.csv", encoding: .utf8).split(separator: "\n")
        #expect(written.first.map(String.init) == ClassificationPart.header)
        #expect(written.count == 3 && written[2].hasPrefix("1,100,50,100,100,2,0.9,1010,1990,1020,2000"), "\(written)")
    }

    @Test("a file that is not a part, a row that is not one, and a link are errors naming the file; a cut last row is not yet a row")
    func refused() throws {
        let folder = try Self.folder()
        try "name,value\n1,2\n".write(toFile: folder + "/other.csv", atomically: true, encoding: .utf8)
        #expect {
            try WrittenPart.read(folder + "/other.csv")
        } throws: { "\($0)".contains("\(folder)/other.csv") && "\($0)".contains("not a results part's header") }

        let header = DetectionPart.header
        let row = "3,0,0,10,10,1,2,3,4,0,0.5"
        for (text, line) in [
            ("\(row)\n3,0,0,10,10,1,2,3\n", 3),  // a row cut mid-line, then the part went on
            ("\(row)\nx,0,0,10,10,1,2,3,4,0,0.5\n", 3), ("\(row)\n\n", 3), ("4,a,0,10,10,,,,,,\n", 2),
        ] {
            try (header + "\n" + text).write(toFile: folder + "/bad.csv", atomically: true, encoding: .utf8)
            #expect {
                try WrittenPart.read(folder + "/bad.csv")
            } throws: { "\($0)".contains("\(folder)/bad.csv is damaged at line \(line)") }
        }
        try (header + "\n" + row + "\n" + row.prefix(12)).write(toFile: folder + "/cut.csv", atomically: true, encoding: .utf8)
        #expect(try WrittenPart.read(folder + "/cut.csv")?.rows.mapValues(\.count) == [3: 1])

        #expect(symlink(folder + "/cut.csv", folder + "/link.csv") == 0)
        #expect {
            try WrittenPart.read(folder + "/link.csv")
        } throws: { "\($0)".contains("\(folder)/link.csv is a symbolic link") }
        #expect {
            try DetectionPart(path: folder + "/link.csv", append: true)
        } throws: { "\($0)".contains("\(folder)/link.csv is a symbolic link") }
        #expect(try String(contentsOfFile: folder + "/cut.csv", encoding: .utf8).hasSuffix(String(row.prefix(12))), "not written through")
    }

    @Test("metrics.csv reads back what was written, and an older file without the later columns still reads")
    func metrics() throws {
        let folder = try Self.folder()
        let record = BatchRecord(
            batch: 4, device: 1, tiles: 8, skipped: 2, waitSeconds: 0.25, readSeconds: 1.5, busySeconds: 3, writeSeconds: 0.125,
            networkSeconds: 2.5, copySeconds: 0.25, bytesRead: 4096, finishedAt: 9.5, peakRSSBytes: 1 << 30, deviceBytes: 1 << 20)
        try (BatchRecord.csvHeader + "\n" + record.csvRow + "\n").write(toFile: folder + "/metrics.csv", atomically: true, encoding: .utf8)
        let read = BatchRecord.read(metricsCSV: folder + "/metrics.csv")
        #expect(read.count == 1)
        #expect(read.first?.csvRow == record.csvRow)

        let older = "batch,device,tiles,wait_s,read_s,busy_s,bytes_read,finished_at_s,peak_rss_bytes,device_bytes\n3,0,4,0.5,1,2,100,7,50,60\n"
        try older.write(toFile: folder + "/old.csv", atomically: true, encoding: .utf8)
        let old = try #require(BatchRecord.read(metricsCSV: folder + "/old.csv").first)
        #expect(old.batch == 3 && old.tiles == 4 && old.busySeconds == 2 && old.deviceBytes == 60)
        #expect(old.networkSeconds == 2)  // no network_s column: all of busy_s was the network
    }

    @Test("the steady window leaves out the first tenth of the batches (at least two), by when they finished, not by number")
    func steadyWindow() {
        func record(_ finishedAt: Double) -> BatchRecord {
            BatchRecord(batch: 0, device: 0, tiles: 16, waitSeconds: 0, readSeconds: 0, busySeconds: 0, bytesRead: 0,
                        finishedAt: finishedAt, peakRSSBytes: 0, deviceBytes: 0)
        }
        // 30 batches, shuffled as two devices report them: three left out, from the third's finish.
        let times = (1...30).map { Double($0) * 0.5 + 4 }
        #expect(BatchRecord.steadyWindow(times.reversed().map(record)) == 5.5...19)
        // Few batches: the first two left out, the rest kept.
        #expect(BatchRecord.steadyWindow([7, 3, 1, 2].map(record)) == 2...7)
        #expect(BatchRecord.steadyWindow([1, 2, 3].map(record)) == nil)
        #expect(BatchRecord.steadyWindow([]) == nil)
    }
}
