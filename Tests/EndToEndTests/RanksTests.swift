import CUDA
import CUDABackend
import Foundation
import Testing
import TestSupport

/// Several mgpr processes as one job (torchrun-style variables), gathered by rank 0.
/// The SLURM versions of these run in scripts/slurm-tests.sh against a real cluster.
@Suite("Ranks without a scheduler", .serialized)
struct RanksTests {
    let mgpr = TestSupport.product("mgpr")

    /// Rank `rank` of `world`, torchrun-style, with `environment` added (a run id).
    func start(
        _ arguments: [String], rank: Int, world: Int, in directory: URL, environment: [String: String] = [:]
    ) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mgpr)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["RANK"] = "\(rank)"
        env["WORLD_SIZE"] = "\(world)"
        env["LOCAL_RANK"] = "\(rank)"
        env.merge(environment) { $1 }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = pipe
        try process.run()
        return (process, pipe)
    }

    func rows(_ path: String) throws -> [Int] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Int($0.split(separator: ",")[0])! }
    }

    static func common(_ run: URL, count: Int = 30) -> [String] {
        ["model=resnet50", "tile_size=32", "batch_size=2", "dummy_dataset_count=\(count)", "dummy_dataset_delay=0.01",
         "workers=1", "cpu_threads=1", "precision=32", "run_dir=\(run.path)", "output=\(run.path)/classes.csv"]
    }

    @Test("two ranks share the tiles; rank 0 merges every tile exactly once and names both ranks")
    func twoRanks() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        let ranks = try (0..<2).map { try start(Self.common(run), rank: $0, world: 2, in: directory) }
        let logs = ranks.map { String(decoding: $0.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        for (process, _) in ranks { process.waitUntilExit() }
        #expect(ranks.map { $0.0.terminationStatus } == [0, 0], "\(logs)")
        #expect(try rows(run.appendingPathComponent("classes.csv").path) == Array(0..<30))
        #expect(logs[0].contains("Initializing distributed: GLOBAL_RANK: 0, MEMBER: 1/2"))
        #expect(logs[1].contains("[mgpr.rank1][INFO] - Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2"))
        #expect(logs[0].contains("Gathered 2 of 2 ranks"))
        // RANK and WORLD_SIZE alone name no launch that claims could be kept under.
        #expect(logs[0].contains("share=claim needs an id of this launch") && logs[0].contains("sharing the tiles statically instead"))
        #expect(logs[0].contains("Ranks (share=static):") == false, "the per-rank lines go to stdout")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("summary.json"))) as! [String: Any]
        #expect(summary["tiles"] as? Int == 30)
        let devices = (summary["devices"] as! [[String: Any]]).map { $0["name"] as! String }
        #expect(devices == ["Rank 0 CPU 0", "Rank 1 CPU 0"])
    }

    /// GPUs this machine has, and why none can be used when there are none.
    static let gpus: (count: Int, reason: String) = {
        switch CUDA.shared {
        case .success(let cuda) where cuda.deviceCount > 0: (cuda.deviceCount, "")
        case .success: (0, "no GPU: the NVIDIA driver reports none")
        case .failure(let error): (0, "no GPU: \(error)")
        }
    }()

    static func gpuArguments(_ run: URL, tiles: Int) -> [String] {
        ["model=fasterrcnn", "accelerator=gpu", "tile_size=256", "batch_size=2", "dummy_dataset_count=\(tiles)",
         "dummy_dataset_delay=0", "workers=2", "precision=16-mixed", "run_dir=\(run.path)", "output=\(run.path)/detections.csv"]
    }

    /// The tiles and device names of a finished run's summary.json.
    static func tilesAndDevices(_ run: URL) throws -> (tiles: Int?, devices: [String]) {
        let s = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("summary.json"))) as! [String: Any]
        return (s["tiles"] as? Int, (s["devices"] as! [[String: Any]]).map { $0["name"] as! String })
    }

    @Test("with GPUs: Faster R-CNN on every GPU of one process (gpus=N), every tile exactly once",
          .enabled(if: gpus.count > 0, Comment(rawValue: gpus.reason)))
    func gpusOfOneProcess() throws {
        let count = Self.gpus.count, tiles = 24
        let one = try TestSupport.temporaryDirectory().appendingPathComponent("one")
        let result = try TestSupport.run(mgpr, Self.gpuArguments(one, tiles: tiles) + ["gpus=\(count)"])
        #expect(result.status == 0, "\(result.stderr)")
        let single = try Self.tilesAndDevices(one)
        #expect(single.tiles == tiles)
        #expect(single.devices.count == count && single.devices.allSatisfy { $0.contains("GPU") }, "\(single.devices)")
    }

    @Test("with two GPUs or more: one rank per GPU, each on its own, every tile exactly once",
          .enabled(if: gpus.count >= 2, "ranks on different GPUs need two GPUs"))
    func gpuRanks() throws {
        let count = Self.gpus.count, tiles = 24
        let directory = try TestSupport.temporaryDirectory()
        let ranked = directory.appendingPathComponent("ranks")
        let ranks = try (0..<count).map { try start(Self.gpuArguments(ranked, tiles: tiles), rank: $0, world: count, in: directory) }
        let logs = ranks.map { String(decoding: $0.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        for (process, _) in ranks { process.waitUntilExit() }
        #expect(ranks.allSatisfy { $0.0.terminationStatus == 0 }, "\(logs)")
        let merged = try Self.tilesAndDevices(ranked)
        #expect(merged.tiles == tiles)
        // "Rank r GPU k (name)": each rank on its own GPU.
        let gpus = Set(merged.devices.map { $0.split(separator: " ").dropFirst(2).joined(separator: " ") })
        #expect(gpus.count == count && gpus.allSatisfy { $0.hasPrefix("GPU ") }, "each rank on its own GPU: \(merged.devices)")
    }

    @Test("a rank that never comes is named by rank 0 within the timeout, with its tiles listed")
    func lostRank() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        let started = Date()
        let (rank0, pipe) = try start(Self.common(run, count: 10) + ["gather_timeout=2"], rank: 0, world: 2, in: directory)
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        rank0.waitUntilExit()
        #expect(rank0.terminationStatus == 1)
        #expect(log.contains("mgpr: error: rank 1 did not finish"), "\(log)")
        #expect(log.contains("5 tiles not done, listed in \(run.path)/missing_tiles.txt"))
        #expect(Date().timeIntervalSince(started) < 30)
        let missing = try String(contentsOf: run.appendingPathComponent("missing_tiles.txt"), encoding: .utf8)
        #expect(missing == "5\n6\n7\n8\n9\n")
    }

    @Test("a run stopped by SIGTERM keeps its work, and resuming ends with the same results as an uninterrupted run")
    func stopAndResume() throws {
        let directory = try TestSupport.temporaryDirectory()
        let whole = directory.appendingPathComponent("whole")
        let uninterrupted = try TestSupport.run(mgpr, Self.common(whole, count: 40), in: directory)
        #expect(uninterrupted.status == 0, "\(uninterrupted.stderr)")

        let run = directory.appendingPathComponent("run")
        let (process, pipe) = try start(Self.common(run, count: 40) + ["dummy_dataset_delay=0.05"], rank: 0, world: 1, in: directory)
        let journal = run.appendingPathComponent("rank-0/journal.txt").path
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n").count < 4 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()  // SIGTERM, as preemption or scontrol requeue send
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 75, "\(log)")
        #expect(log.contains("Received SIGTERM: stopping after the batches in flight"))
        #expect(log.contains("To continue: mgpr ") && log.contains(" run_dir=\(run.path) resume=true"), "\(log)")
        let journaled = try String(contentsOf: run.appendingPathComponent("rank-0/journal.txt"), encoding: .utf8)
            .split(separator: "\n").count
        #expect(journaled > 0 && journaled < 40)
        // The stopped run says where it stands.
        let stopped = try Self.summary(run)
        #expect(stopped["tiles"] as? Int == journaled && stopped["complete"] as? Bool == false, "\(stopped)")

        let resumed = try TestSupport.run(mgpr, Self.common(run, count: 40) + ["resume=true"], in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("Resuming: \(journaled) of this rank's 40 tiles already done"))
        let a = try String(contentsOf: whole.appendingPathComponent("classes.csv"), encoding: .utf8)
        let b = try String(contentsOf: run.appendingPathComponent("classes.csv"), encoding: .utf8)
        #expect(a == b)
        // Statistics add up across attempts, and a resume with nothing left keeps them.
        let total = try Self.summary(run)
        #expect(total["tiles"] as? Int == 40 && total["batches"] as? Int == 20 && total["complete"] as? Bool == true, "\(total)")
        let again = try TestSupport.run(mgpr, Self.common(run, count: 40) + ["resume=true"], in: directory)
        #expect(again.status == 0, "\(again.stderr)")
        let after = try Self.summary(run)
        #expect(after["tiles"] as? Int == 40 && after["batches"] as? Int == 20, "\(after)")
        #expect((after["peak_rss_bytes"] as? Int ?? 0) > 10_000_000, "\(after)")
        #expect(after["bytes_read"] as? Int == 0, "dummy tiles are made, not read: \(after)")
    }

    static func summary(_ run: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: run.appendingPathComponent("summary.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    @Test("resume refuses other work, naming each key that differs, and continues the same work")
    func resumeRefusesOtherWork() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        let first = try TestSupport.run(mgpr, Self.common(run, count: 6), in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        let recorded = try String(contentsOf: run.appendingPathComponent("classes.csv"), encoding: .utf8)
        let cases: [([String], [String])] = [
            (["tile_size=16"], ["tile_size was 32, now 16"]),
            (["model=none", "output=none"], ["model was resnet50, now none", "weights was seeded (seed 42), now (not given)"]),
            (["seed=7"], ["image_path was dummy tiles (seed 42), now dummy tiles (seed 7)", "weights was seeded (seed 42), now seeded (seed 7)"]),
            (["dummy_dataset_count=8"], ["tiles was 6, now 8"]),
        ]
        for (change, differences) in cases {
            let resumed = try TestSupport.run(mgpr, Self.common(run, count: 6) + change + ["resume=true"], in: directory)
            #expect(resumed.status == 2, "\(change): \(resumed.stderr)")
            let errors = resumed.stderr.split(separator: "\n").filter { $0.contains("error:") }
            #expect(errors.count == 1 && errors[0].contains("resume=true: \(run.path) holds other work: "), "\(errors)")
            for difference in differences { #expect(errors.first?.contains(difference) == true, "\(change): \(errors)") }
        }
        #expect(try String(contentsOf: run.appendingPathComponent("classes.csv"), encoding: .utf8) == recorded, "a refused resume changes nothing")
        let same = try TestSupport.run(mgpr, Self.common(run, count: 6) + ["batch_size=3", "workers=2", "resume=true"], in: directory)
        #expect(same.status == 0, "batch size and workers change how, not what: \(same.stderr)")
        #expect(try String(contentsOf: run.appendingPathComponent("classes.csv"), encoding: .utf8) == recorded)
    }

    @Test("a crash between the results write and the journal write, mid-line, loses no tile and duplicates none")
    func crashBetweenResultsAndJournal() throws {
        let directory = try TestSupport.temporaryDirectory()
        let whole = directory.appendingPathComponent("whole"), run = directory.appendingPathComponent("run")
        #expect(try TestSupport.run(mgpr, Self.common(whole, count: 12), in: directory).status == 0)
        #expect(try TestSupport.run(mgpr, Self.common(run, count: 12), in: directory).status == 0)
        // As a crash would leave it: the last two batches' results written but not
        // journaled, a row cut in half, a journal line cut in half.
        let journal = run.appendingPathComponent("rank-0/journal.txt"), part = run.appendingPathComponent("rank-0/results.csv")
        let kept = try String(contentsOf: journal, encoding: .utf8).split(separator: "\n").dropLast(4)
        try (kept.joined(separator: "\n") + "\n1").write(to: journal, atomically: true, encoding: .utf8)
        let rows = try String(contentsOf: part, encoding: .utf8)
        try (rows + "11,0,0,3").write(to: part, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: run.appendingPathComponent("classes.csv"))

        let resumed = try TestSupport.run(mgpr, Self.common(run, count: 12) + ["resume=true"], in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("Resuming: 8 of this rank's 12 tiles already done"), "\(resumed.stderr)")
        let a = try String(contentsOf: whole.appendingPathComponent("classes.csv"), encoding: .utf8)
        let b = try String(contentsOf: run.appendingPathComponent("classes.csv"), encoding: .utf8)
        #expect(a == b)
        let lines = try String(contentsOf: journal, encoding: .utf8).split(separator: "\n")
        #expect(lines.compactMap { Int($0.split(separator: " ")[0]) }.sorted() == Array(0..<12))
        #expect(lines.allSatisfy { $0.split(separator: " ").dropFirst().first == "1" }, "a classifier's tile takes one row: \(lines)")
    }

    @Test("a results part that cannot be read fails the gather, naming it")
    func unreadablePart() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        #expect(try TestSupport.run(mgpr, Self.common(run, count: 6), in: directory).status == 0)
        let part = run.appendingPathComponent("rank-0/results.csv")
        try Data([0x74, 0x69, 0xFF, 0xFE, 0x0A]).write(to: part)  // not UTF-8 text
        let merged = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)"], in: directory)
        #expect(merged.status == 1, "\(merged.stderr)")
        #expect(merged.stderr.contains("cannot read \(part.path)"), "\(merged.stderr)")
    }

    @Test("a second run on a run directory in use is refused, naming the holder; the first is untouched")
    func oneRunPerDirectory() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        // 60 tiles read at 0.2 s each: the second run reaches the lock long before the first ends.
        let (first, pipe) = try start(Self.common(run, count: 60) + ["dummy_dataset_delay=0.2"], rank: 0, world: 1, in: directory)
        let journal = run.appendingPathComponent("rank-0/journal.txt").path
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").isEmpty {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let second = try TestSupport.run(mgpr, Self.common(run, count: 60), in: directory)
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        first.waitUntilExit()
        #expect(second.status == 2, "\(second.stderr)")
        #expect(second.stderr.contains("run_dir=\(run.path): another mgpr run is using it (host ")
            && second.stderr.contains(", pid \(first.processIdentifier))"), "\(second.stderr)")
        #expect(first.terminationStatus == 0, "\(log)")
        #expect(try rows(run.appendingPathComponent("classes.csv").path) == Array(0..<60))
        // The lock goes with its process: the directory can be resumed at once.
        let again = try TestSupport.run(mgpr, Self.common(run, count: 60) + ["resume=true"], in: directory)
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test("mgpr merge gathers a run after the fact")
    func mergeAfterTheFact() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        let done = try TestSupport.run(mgpr, Self.common(run, count: 6), in: directory)
        #expect(done.status == 0)
        try FileManager.default.removeItem(at: run.appendingPathComponent("classes.csv"))
        let merged = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)"], in: directory)
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try rows(run.appendingPathComponent("classes.csv").path) == Array(0..<6))
        // A damaged status (a geotransform of 3 coefficients) is named, not a trap.
        let status = run.appendingPathComponent("rank-0/status.json")
        let saved = try Data(contentsOf: status)
        var damaged = try JSONSerialization.jsonObject(with: saved) as! [String: Any]
        damaged["raster"] = ["image_path": "x.tif", "width": 10, "height": 10, "geotransform": [0, 1, 0],
                             "tile_size": 32, "overlap": 0, "merge_iou": 0.5]
        try JSONSerialization.data(withJSONObject: damaged).write(to: status)
        let broken = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)"], in: directory)
        #expect(broken.status == 1 && broken.stderr.contains("cannot read \(status.path) (damaged: a geotransform of 3 coefficients"),
                "\(broken.stderr)")
        try saved.write(to: status)
        // A results file that cannot be written: one line that says how to recover.
        let blocked = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)", "output=/proc/mgpr/classes.csv"], in: directory)
        #expect(blocked.status == 1 && blocked.stderr.split(separator: "\n").count == 1, "\(blocked.stderr)")
        #expect(blocked.stderr.contains("every rank's results are kept in \(run.path)/rank-*/")
            && blocked.stderr.contains("run `mgpr merge run_dir=\(run.path)`"), "\(blocked.stderr)")
        let empty = try TestSupport.run(mgpr, ["merge", "run_dir=\(directory.path)"], in: directory)
        #expect(empty.status == 1 && empty.stderr.contains("holds no mgpr run"))
    }
}
