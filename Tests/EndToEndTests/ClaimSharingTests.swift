import Foundation
import Testing
import TestSupport

/// share=claim between real processes (torchrun-style variables with a run id): ranks
/// claim chunks from the run directory as they go. The SLURM versions, with a rank four
/// times slower, run in scripts/slurm-tests.sh.
@Suite("Ranks claiming their tiles", .serialized)
struct ClaimSharingTests {
    let mgpr = TestSupport.product("mgpr")

    /// Rank `rank` of `world` in the launch with run id `launch`.
    func start(_ arguments: [String], rank: Int, world: Int, launch: String, restart: Int = 0, in directory: URL) throws -> (Process, Pipe) {
        try RanksTests().start(
            arguments, rank: rank, world: world, in: directory,
            environment: ["TORCHELASTIC_RUN_ID": launch, "TORCHELASTIC_RESTART_COUNT": "\(restart)"])
    }

    /// The exit statuses and logs of processes started by ``start``.
    func finish(_ ranks: [(Process, Pipe)]) -> (statuses: [Int32], logs: [String]) {
        let logs = ranks.map { String(decoding: $0.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        for (process, _) in ranks { process.waitUntilExit() }
        return (ranks.map { $0.0.terminationStatus }, logs)
    }

    func journalLines(_ run: URL, rank: Int) -> Int {
        ((try? String(contentsOf: run.appendingPathComponent("rank-\(rank)/journal.txt"), encoding: .utf8)) ?? "")
            .split(separator: "\n").count
    }

    func waitForLines(_ run: URL, rank: Int, _ count: Int) {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, journalLines(run, rank: rank) < count { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// One process's results for `count` tiles: what every sharing must reproduce.
    func reference(_ directory: URL, count: Int) throws -> String {
        let whole = directory.appendingPathComponent("whole")
        let result = try TestSupport.run(mgpr, RanksTests.common(whole, count: count), in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        return try String(contentsOf: whole.appendingPathComponent("classes.csv"), encoding: .utf8)
    }

    @Test("a rank that never starts holds nobody up: the others claim its tiles, each once, the results as one process's")
    func rankNeverStarts() throws {
        let directory = try TestSupport.temporaryDirectory()
        let expected = try reference(directory, count: 30)
        let run = directory.appendingPathComponent("run")
        let ranks = try (0..<2).map { try start(RanksTests.common(run), rank: $0, world: 3, launch: "never", in: directory) }
        let (statuses, logs) = finish(ranks)
        #expect(statuses == [0, 0], "\(logs)")
        #expect(try String(contentsOf: run.appendingPathComponent("classes.csv"), encoding: .utf8) == expected)
        #expect(logs[0].contains("claimed as this rank goes (share=claim: 30 tiles of 30 left"), "\(logs[0])")
        #expect(logs[0].contains("Rank 2 did not finish, but every tile is journaled: the results are whole"), "\(logs[0])")
        let summary = try RanksTests.summary(run)
        let perRank = (summary["ranks"] as? [[String: Any]] ?? []).map { ($0["rank"] as? Int ?? -1, $0["tiles"] as? Int ?? -1) }
        #expect(perRank.map(\.0) == [0, 1] && perRank.map(\.1).reduce(0, +) == 30, "\(perRank)")
        let claims = summary["claims"] as? [String: Any]
        #expect((claims?["chunks"] as? Int ?? 0) >= 2 && (claims?["operations"] as? Int ?? 0) > 0, "\(String(describing: claims))")
        let page = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(page.contains("The 3 ranks claimed chunks of tiles as they went (share=claim)"))
        #expect(page.contains("<td>2</td><td></td><td>no status (never started, or lost before its first tile)</td>"))
        let work = try String(contentsOf: run.appendingPathComponent("work.json"), encoding: .utf8)
        #expect(work.contains("\"share\" : \"claim\""), "recorded, so a resume claims too: \(work)")
    }

    @Test("a rank killed mid-chunk: after its lease, its chunks are taken over less the tiles it journaled")
    func rankKilled() throws {
        let directory = try TestSupport.temporaryDirectory()
        // 80 tiles: rank 1's first chunk is 10, so it dies with tiles of it left.
        let expected = try reference(directory, count: 80)
        let run = directory.appendingPathComponent("run")
        let arguments = RanksTests.common(run, count: 80) + ["dummy_dataset_delay=0.05", "claim_lease=2"]
        let ranks = try (0..<2).map { try start(arguments, rank: $0, world: 2, launch: "killed", in: directory) }
        waitForLines(run, rank: 1, 2)
        kill(ranks[1].0.processIdentifier, SIGKILL)
        let journaled = journalLines(run, rank: 1)
        let (statuses, logs) = finish(ranks)
        #expect(statuses == [0, SIGKILL], "\(logs[0])")
        #expect(logs[0].contains("Took over chunk ") && logs[0].contains("from rank 1, whose lease expired"), "\(logs[0])")
        #expect(try String(contentsOf: run.appendingPathComponent("classes.csv"), encoding: .utf8) == expected)
        #expect(journaled >= 2 && journalLines(run, rank: 0) + journalLines(run, rank: 1) == 80, "every tile journaled once")
    }

    @Test("stopped by SIGTERM and resumed as the next launch: the journals, not the claims, say what is left")
    func stopAndResume() throws {
        let directory = try TestSupport.temporaryDirectory()
        let expected = try reference(directory, count: 40)
        let run = directory.appendingPathComponent("run")
        let arguments = RanksTests.common(run, count: 40) + ["dummy_dataset_delay=0.05"]
        let ranks = try (0..<2).map { try start(arguments, rank: $0, world: 2, launch: "stopped", in: directory) }
        // Both running (their signal handlers in place) before the signal.
        waitForLines(run, rank: 0, 3)
        waitForLines(run, rank: 1, 1)
        for (process, _) in ranks { process.terminate() }
        let (statuses, logs) = finish(ranks)
        #expect(statuses == [75, 75], "\(logs)")
        let done = journalLines(run, rank: 0) + journalLines(run, rank: 1)
        #expect(done > 0 && done < 40)
        let resumed = try (0..<2).map {
            try start(arguments + ["resume=true"], rank: $0, world: 2, launch: "stopped", restart: 1, in: directory)
        }
        let (after, resumedLogs) = finish(resumed)
        #expect(after == [0, 0], "\(resumedLogs)")
        #expect(resumedLogs[0].contains("Resuming: \(done) of the run's 40 tiles already done"), "\(resumedLogs[0])")
        #expect(try String(contentsOf: run.appendingPathComponent("classes.csv"), encoding: .utf8) == expected)
        let boards = try FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("claims").path).sorted()
        #expect(boards == ["torchrun-stopped-restart0", "torchrun-stopped-restart1"])
    }
}
