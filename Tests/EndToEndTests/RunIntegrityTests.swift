import Foundation
import Testing
import TestSupport
import Tiling

/// Run directories damaged as people, scripts and file systems damage them. Merge and
/// resume either give the results of the run that was not damaged, or refuse with exit 1
/// naming the file; never exit 0 with other results.
@Suite("Run directory integrity", .serialized)
struct RunIntegrityTests {
    let mgpr = TestSupport.product("mgpr")

    static func classifier(_ run: URL, count: Int = 16) -> [String] {
        ["model=resnet50", "tile_size=32", "batch_size=2", "dummy_dataset_count=\(count)", "dummy_dataset_delay=0",
         "workers=1", "cpu_threads=1", "precision=32", "run_dir=\(run.path)", "output=\(run.path)/classes.csv"]
    }

    /// `arguments` run as `world` ranks at once, with torchrun's variables; their exit statuses and logs.
    func ranks(_ arguments: [String], world: Int, in directory: URL) throws -> [(status: Int32, log: String)] {
        let started = try (0..<world).map { rank in
            var environment = ProcessInfo.processInfo.environment
            (environment["RANK"], environment["WORLD_SIZE"], environment["LOCAL_RANK"]) = ("\(rank)", "\(world)", "\(rank)")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: mgpr)
            (process.arguments, process.currentDirectoryURL, process.environment) = (arguments, directory, environment)
            let pipe = Pipe()
            (process.standardOutput, process.standardError) = (FileHandle.nullDevice, pipe)
            try process.run()
            return (process, pipe)
        }
        return started.map { process, pipe in
            let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, log)
        }
    }

    /// The error line of a failed command (the only line on standard error with "error:").
    static func errorLine(_ stderr: String) -> String {
        stderr.split(separator: "\n").filter { $0.contains("error:") }.joined(separator: "\n")
    }

    func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    func append(_ text: String, to url: URL) throws {
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    @Test("merge refuses a part deleted, emptied, cut mid-line or given a row of a tile that does not exist, naming it and the tiles")
    func mergeRefusesDamagedParts() throws {
        let directory = try TestSupport.temporaryDirectory()
        let base = directory.appendingPathComponent("base"), run = directory.appendingPathComponent("run")
        let done = try ranks(Self.classifier(run), world: 2, in: directory)
        #expect(done.map(\.status) == [0, 0], "\(done.map(\.log))")
        let whole = try text(run.appendingPathComponent("classes.csv"))
        try FileManager.default.moveItem(at: run, to: base)
        let part1 = run.appendingPathComponent("rank-1/results.csv"), part0 = run.appendingPathComponent("rank-0/results.csv")
        let damages: [(String, () throws -> Void, [String])] = [
            ("deleted", { try FileManager.default.removeItem(at: part1) },
             ["rank-1/journal.txt lists 8 tiles done (tiles 8, 9,", "whose rows \(part1.path) should hold, but it does not exist"]),
            ("emptied", { try Data().write(to: part1) }, ["whose rows \(part1.path) lacks"]),
            ("cut mid-line", {
                // The last row goes, and the one before it is cut in half.
                let rows = try self.text(part0).split(separator: "\n")
                let cut = rows.dropLast(2).joined(separator: "\n") + "\n" + rows[rows.count - 2].prefix(rows[rows.count - 2].count / 2)
                try cut.write(to: part0, atomically: false, encoding: .utf8)
            }, ["rank-0/journal.txt lists 2 tiles done (tiles 6, 7) whose rows \(part0.path) lacks"]),
            ("a row of tile 99", { try self.append("99,0,0,32,32,1,0.5,0,0,32,32\n", to: part0) },
             ["\(part0.path) line 10 is not this run's: tile 99, and the run has tiles 0 to 15"]),
            ("a row of tile 4 appended", { try self.append("4,0,0,32,32,1,0.5,0,0,32,32\n", to: part0) },
             ["lists 1 tile done (tile 4) whose rows \(part0.path) holds otherwise than written (tile 4: 1 row as journaled, their bytes changed)"]),
        ]
        for (name, damage, says) in damages {
            try? FileManager.default.removeItem(at: run)
            try FileManager.default.copyItem(at: base, to: run)
            try FileManager.default.removeItem(at: run.appendingPathComponent("classes.csv"))
            try damage()
            let merged = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)"], in: directory)
            let error = Self.errorLine(merged.stderr)
            #expect(merged.status == 1, "\(name): \(merged.stderr)")
            for text in says { #expect(error.contains(text), "\(name): \(error)") }
            #expect(!merged.stderr.contains("Gathered"), "\(name)")
            #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("classes.csv").path), "\(name): an output was written")
        }
        // Undamaged, the same merge gives the run's results.
        try FileManager.default.removeItem(at: run)
        try FileManager.default.copyItem(at: base, to: run)
        let merged = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)"], in: directory)
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try text(run.appendingPathComponent("classes.csv")) == whole)
    }

    @Test("a detector's part cut inside a tile's rows is found by the journal's row count, and a resume after it refuses too")
    func detectorPartCut() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        let arguments = [
            "image_path=\(try TestSupport.neonCrop)", "tile_size=200", "batch_size=2", "workers=1", "precision=32",
            "weights=\(DetectionCommandTests.fixtures.path)/fasterrcnn.pth", "run_dir=\(run.path)", "output=\(run.path)/trees.csv",
        ]
        let done = try TestSupport.run(mgpr, arguments, in: directory)
        #expect(done.status == 0, "\(done.stderr)")
        let part = run.appendingPathComponent("rank-0/results.csv")
        let rows = try text(part).split(separator: "\n")
        let perTile = Dictionary(grouping: rows.dropFirst(), by: { $0.prefix { $0 != "," } })
        let last = try #require(rows.last?.prefix { $0 != "," })
        let count = try #require(perTile[last]?.count)
        try #require(count >= 4, "tile \(last) has \(count) rows: too few to cut inside")
        // Two rows of the last tile go, and the one before them is cut mid-line.
        let kept = rows.dropLast(2).joined(separator: "\n")
        try String(kept.prefix(kept.count - 7)).write(to: part, atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(at: run.appendingPathComponent("trees.csv"))
        let merged = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)"], in: directory)
        #expect(merged.status == 1, "\(merged.stderr)")
        #expect(Self.errorLine(merged.stderr).contains("lists 1 tile done (tile \(last)) whose rows \(part.path) holds otherwise than written "
            + "(tile \(last): \(count - 3) rows, journaled \(count))"), "\(merged.stderr)")
        let resumed = try TestSupport.run(mgpr, arguments + ["resume=true"], in: directory)
        #expect(resumed.status == 1 && Self.errorLine(resumed.stderr).contains("whose rows \(part.path) holds otherwise"), "\(resumed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("trees.csv").path))
    }

    @Test("resume refuses what it cannot vouch for: a deleted part, a damaged or missing work record, journal garbage, a linked part")
    func resumeRefuses() throws {
        let directory = try TestSupport.temporaryDirectory()
        let base = directory.appendingPathComponent("base"), run = directory.appendingPathComponent("run")
        #expect(try TestSupport.run(mgpr, Self.classifier(run, count: 8), in: directory).status == 0)
        try FileManager.default.moveItem(at: run, to: base)
        let rank = run.appendingPathComponent("rank-0"), part = rank.appendingPathComponent("results.csv")
        let work = run.appendingPathComponent("work.json"), journal = rank.appendingPathComponent("journal.txt")
        let elsewhere = directory.appendingPathComponent("elsewhere.csv")
        let cases: [(String, [String], () throws -> Void, [String])] = [
            ("part deleted", [], { try FileManager.default.removeItem(at: part) }, ["\(part.path) should hold, but it does not exist"]),
            ("work.json damaged, other tile_size", ["tile_size=16"], { try "{\"fields\": {\"mo".write(to: work, atomically: false, encoding: .utf8) },
             ["\(work.path) is damaged (", "so this resume cannot be checked to continue the same work"]),
            ("work.json deleted", ["tile_size=16"], { try FileManager.default.removeItem(at: work) },
             ["\(work.path) is missing though 8 tiles are done"]),
            ("journal garbage", [], { try self.append("garbage\n#4\n", to: journal) }, ["\(journal.path) is damaged at line 9 (\"garbage\""]),
            ("part linked", [], {
                try "precious\n".write(to: elsewhere, atomically: false, encoding: .utf8)
                try FileManager.default.removeItem(at: part)
                try FileManager.default.createSymbolicLink(at: part, withDestinationURL: elsewhere)
            }, ["\(part.path) is a symbolic link"]),
        ]
        for (name, change, damage, says) in cases {
            try? FileManager.default.removeItem(at: run)
            try FileManager.default.copyItem(at: base, to: run)
            try FileManager.default.removeItem(at: run.appendingPathComponent("classes.csv"))
            try damage()
            let journalBefore = try? text(journal), partBefore = try? text(part)
            let resumed = try TestSupport.run(mgpr, Self.classifier(run, count: 8) + change + ["resume=true"], in: directory)
            #expect(resumed.status == 1, "\(name): \(resumed.stderr)")
            let error = Self.errorLine(resumed.stderr)
            for text in says { #expect(error.contains(text), "\(name): \(error)") }
            #expect(!resumed.stderr.contains("recording it now"), "\(name)")
            #expect((try? text(journal)) == journalBefore && (try? text(part)) == partBefore, "\(name): a refused resume changes nothing")
            #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("classes.csv").path), "\(name)")
        }
        #expect(try text(elsewhere) == "precious\n", "nothing written through the link")
    }

    @Test("metrics.csv is continued by a resume: one header, the batches of both attempts numbered on")
    func metricsContinued() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        #expect(try TestSupport.run(mgpr, Self.classifier(run, count: 8), in: directory).status == 0)
        // As a crash after four tiles leaves it: their journal lines, the rest redone.
        let journal = run.appendingPathComponent("rank-0/journal.txt")
        try (try text(journal).split(separator: "\n").prefix(4).joined(separator: "\n") + "\n").write(to: journal, atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(at: run.appendingPathComponent("classes.csv"))
        let resumed = try TestSupport.run(mgpr, Self.classifier(run, count: 8) + ["resume=true"], in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let lines = try text(run.appendingPathComponent("rank-0/metrics.csv")).split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("batch,") }.count == 1 && lines.count == 1 + 4 + 2, "\(lines)")
        let batches = lines.dropFirst().map { Int($0.prefix { $0 != "," })! }
        #expect(batches == [0, 1, 2, 3, 4, 5], "\(batches)")
        let finished = lines.dropFirst().map { Double($0.split(separator: ",")[7])! }
        #expect(finished[4] >= finished[3], "the second attempt's times follow the first's: \(finished)")
    }
}
