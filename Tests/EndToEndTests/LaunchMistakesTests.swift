import Foundation
import Testing
import TestSupport

/// Mistakes in how mgpr is launched are refused in one line naming what to fix, never
/// turned into a silent single-process run or thousands of threads; a hang-up stops a run
/// as cleanly as SIGTERM.
@Suite("Launch mistakes")
struct LaunchMistakesTests {
    let mgpr = TestSupport.product("mgpr")

    /// The environment without any launcher's variables, plus `extra`.
    func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("SLURM_") && !["RANK", "WORLD_SIZE", "LOCAL_RANK"].contains($0.key)
        }
        env.merge(extra) { $1 }
        return env
    }

    @Test("launcher variables that are not whole numbers, or a world size out of range, exit 2 naming the variable")
    func launcherVariables() throws {
        let cases: [([String: String], String)] = [
            (["RANK": "abc", "WORLD_SIZE": "2"], "RANK=abc: must be a whole number"),
            (["RANK": "0", "WORLD_SIZE": "0"], "WORLD_SIZE=0: a job has 1 to 100000 ranks"),
            (["RANK": "0", "WORLD_SIZE": "-3"], "WORLD_SIZE=-3: a job has 1 to 100000 ranks"),
            (["RANK": "0", "WORLD_SIZE": "1e20"], "WORLD_SIZE=1e20: must be a whole number"),
            (["RANK": "0", "WORLD_SIZE": "1000000000"], "WORLD_SIZE=1000000000: a job has 1 to 100000 ranks"),
            (["SLURM_JOB_ID": "5", "SLURM_PROCID": "garbage", "SLURM_NTASKS": "2", "SLURM_STEP_ID": "0"],
             "SLURM_PROCID=garbage: must be a whole number"),
            (["SLURM_JOB_ID": "5", "SLURM_PROCID": "0", "SLURM_NTASKS": "xyz", "SLURM_STEP_ID": "0"],
             "SLURM_NTASKS=xyz: must be a whole number"),
        ]
        let directory = try TestSupport.temporaryDirectory()
        for (env, message) in cases {
            let result = try TestSupport.run(
                mgpr, ["model=none", "use_fake_data=true", "dummy_dataset_count=2", "run_dir=\(directory.path)/run"],
                in: directory, environment: environment(env))
            #expect(result.status == 2, "\(env): \(result.stderr)")
            #expect(result.stderr == "mgpr: error: \(message) (the launcher sets it)\n"
                || result.stderr == "mgpr: error: \(message)\n", "\(env): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("run").path), "nothing was started")
    }

    @Test("thread counts past any use are refused before a thread starts")
    func threadCounts() throws {
        for (key, message) in [("workers=10000", "workers=10000: at most 256 reader threads"),
                               ("workers=1000000000", "workers=1000000000: at most 256 reader threads"),
                               ("cpu_threads=100000", "cpu_threads=100000: at most 1024")] {
            let started = Date()
            let result = try TestSupport.run(mgpr, ["model=none", "use_fake_data=true", key])
            #expect(result.status == 2 && result.stderr.hasPrefix("mgpr: error: \(message)"), "\(key): \(result.stderr)")
            #expect(Date().timeIntervalSince(started) < 10)
        }
    }

    @Test("a FIFO or a device given as image_path or weights is refused at once in one line, not waited on")
    func specialFiles() throws {
        let directory = try TestSupport.temporaryDirectory()
        let fifo = directory.appendingPathComponent("ortho.tif").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let cases: [([String], String)] = [
            (["image_path=\(fifo)", "model=none"], "mgpr: error: \(fifo) is not a raster GDAL can read (GeoTIFF, COG, PNG, JPEG, VRT, ...): it is a FIFO (named pipe), not a file"),
            (["image_path=/dev/zero", "model=none"], "it is a character device, not a file"),
            (["use_fake_data=true", "model=resnet50", "weights=\(fifo)"], "mgpr: error: weights \(fifo) is a FIFO (named pipe), not a file"),
        ]
        for (arguments, message) in cases {
            let started = Date()
            // Bounded from outside: a run that waits on the FIFO would otherwise hang the suite.
            let result = try TestSupport.run("/usr/bin/timeout", ["30", mgpr] + arguments + ["run_dir=\(directory.path)/run"], in: directory)
            #expect(result.status == 1 && result.stderr.contains(message), "\(arguments): \(result.status) \(result.stderr)")
            #expect(Date().timeIntervalSince(started) < 20)
        }
    }

    @Test("output in folders that do not exist yet gets them made; one under a file is refused before the first tile")
    func outputFolders() throws {
        let directory = try TestSupport.temporaryDirectory()
        let job = ["model=resnet50", "use_fake_data=true", "dummy_dataset_count=4", "dummy_dataset_delay=0", "tile_size=64",
                   "workers=1", "precision=32"]
        let nested = directory.appendingPathComponent("results/2026/run.csv").path
        let made = try TestSupport.run(mgpr, job + ["output=\(nested)", "run_dir=\(directory.path)/a"], in: directory)
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try String(contentsOfFile: nested, encoding: .utf8).split(separator: "\n").count == 5)
        let file = directory.appendingPathComponent("plain").path
        try Data().write(to: URL(fileURLWithPath: file))
        let refused = try TestSupport.run(mgpr, job + ["output=\(file)/x.csv", "run_dir=\(directory.path)/b"], in: directory)
        #expect(refused.status == 2 && refused.stderr.contains("output=\(file)/x.csv: \(file) is a file, not a folder"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("Predicting"), "refused before the first tile")
    }

    @Test("SIGHUP (a closed terminal or ssh session) stops a run as SIGTERM does: work kept, exit 75")
    func hangUp() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mgpr)
        process.arguments = ["model=resnet50", "tile_size=32", "batch_size=2", "dummy_dataset_count=200", "dummy_dataset_delay=0.05",
                             "workers=1", "cpu_threads=1", "precision=32", "run_dir=\(run.path)", "output=\(run.path)/classes.csv"]
        process.environment = environment([:])
        let pipe = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = pipe
        try process.run()
        let journal = run.appendingPathComponent("rank-0/journal.txt").path
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n").count < 2 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(process.processIdentifier, SIGHUP)
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 75, "\(log)")
        #expect(log.contains("Received SIGHUP: stopping after the batches in flight"), "\(log)")
        let journaled = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").count
        #expect(journaled >= 2 && journaled < 200)
    }
}

/// Rank 0's wait for the other ranks: stoppable, and never waiting on a damaged status.
@Suite("Waiting for ranks")
struct GatherWaitTests {
    let mgpr = TestSupport.product("mgpr")

    func rankZero(of world: Int, _ run: URL, extra: [String] = []) throws -> (Process, Pipe) {
        try RanksTests().start(
            RanksTests.common(run, count: 8) + ["gather_timeout=600"] + extra, rank: 0, world: world,
            in: run.deletingLastPathComponent())
    }

    @Test("SIGTERM while rank 0 waits for the others stops it within seconds, work kept, exit 75")
    func stopWhileWaiting() throws {
        let run = try TestSupport.temporaryDirectory().appendingPathComponent("run")
        let (process, pipe) = try rankZero(of: 2, run)
        let status = run.appendingPathComponent("rank-0/status.json").path
        let deadline = Date().addingTimeInterval(60)
        // Rank 0 has done its share when its status says finished; then it waits for rank 1.
        while Date() < deadline, !((try? String(contentsOfFile: status, encoding: .utf8)) ?? "").contains(#""state" : "finished""#) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.5)  // into the wait
        let signalled = Date()
        process.terminate()
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(Date().timeIntervalSince(signalled) < 5, "\(log)")
        #expect(process.terminationStatus == 75, "\(log)")
        #expect(log.contains("Waiting for rank 1 to finish"))
        #expect(log.contains("Stopped by SIGTERM while waiting for rank 1; this rank's work is kept: `mgpr merge run_dir=\(run.path)`"), "\(log)")
    }

    @Test("a damaged status of another rank fails the gather at once, naming the file")
    func damagedStatus() throws {
        let run = try TestSupport.temporaryDirectory().appendingPathComponent("run")
        let damaged = run.appendingPathComponent("rank-1/status.json")
        try FileManager.default.createDirectory(at: damaged.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("{\"rank\": 1, \"sta".utf8).write(to: damaged)
        let started = Date()
        let (process, pipe) = try rankZero(of: 2, run)
        let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "\(log)")
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(log.contains("mgpr: error: \(damaged.path)"), "\(log)")
        #expect(log.contains("mgpr: error: \(damaged.path) is damaged (16 bytes that are not a status mgpr wrote): delete it"), "\(log)")
        // mgpr merge says the same at once.
        let merge = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)", "gather_timeout=600"])
        #expect(merge.status == 1 && merge.stderr.contains(damaged.path), "\(merge.stderr)")
    }

    @Test("mgpr report and mgpr merge read a run that is still going, or was killed outright")
    func unfinishedRun() throws {
        let run = try TestSupport.temporaryDirectory().appendingPathComponent("run")
        let (process, _) = try rankZero(of: 1, run, extra: ["dummy_dataset_count=400", "dummy_dataset_delay=0.05"])
        let journal = run.appendingPathComponent("rank-0/journal.txt").path
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n").count < 4 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let live = try TestSupport.run(mgpr, ["report", "run_dir=\(run.path)"])
        #expect(live.status == 0, "\(live.stderr)")
        let page = try String(contentsOfFile: run.appendingPathComponent("report.html").path, encoding: .utf8)
        #expect(page.contains("Rank 0 did not finish (running, or killed)"))
        #expect(page.contains("of 400 tiles not done"))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let merged = try TestSupport.run(mgpr, ["merge", "run_dir=\(run.path)", "gather_timeout=1"])
        #expect(merged.status == 1 && merged.stderr.contains("mgpr merge: error: rank 0 did not finish"), "\(merged.stderr)")
        #expect(try TestSupport.run(mgpr, ["report", "run_dir=\(run.path)"]).status == 0)
    }
}
