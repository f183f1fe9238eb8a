import Foundation
import Testing
import TestSupport

/// What is on disk from earlier runs: never replaced without overwrite=true, and
/// resume=true alone finds the run to continue.
@Suite("Earlier runs")
struct RunHistoryTests {
    let mgpr = TestSupport.product("mgpr")
    static let work = ["model=resnet50", "tile_size=32", "batch_size=2", "dummy_dataset_count=4", "dummy_dataset_delay=0",
                       "cpu_threads=1", "workers=1", "precision=32"]

    @Test("an existing results file or a run_dir holding a run is refused without overwrite=true, naming the key")
    func nothingReplaced() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("classes.csv").path
        let first = try TestSupport.run(mgpr, Self.work + ["output=\(output)"], in: directory)
        try #require(first.status == 0, "\(first.stderr)")
        let written = try String(contentsOfFile: output, encoding: .utf8)

        let again = try TestSupport.run(mgpr, Self.work + ["output=\(output)", "seed=7"], in: directory)
        #expect(again.status == 2)
        #expect(again.stderr.contains("output=\(output): the file exists; overwrite=true replaces it"), "\(again.stderr)")
        #expect(try String(contentsOfFile: output, encoding: .utf8) == written, "the refused run touched the file")
        let replaced = try TestSupport.run(mgpr, Self.work + ["output=\(output)", "seed=7", "overwrite=true"], in: directory)
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try String(contentsOfFile: output, encoding: .utf8) != written, "seed=7 gives other tiles, so other classes")

        let run = directory.appendingPathComponent("run").path
        let finished = try TestSupport.run(mgpr, Self.work + ["run_dir=\(run)"], in: directory)
        try #require(finished.status == 0, "\(finished.stderr)")
        let rerun = try TestSupport.run(mgpr, Self.work + ["run_dir=\(run)"], in: directory)
        #expect(rerun.status == 2)
        #expect(rerun.stderr.contains("run_dir=\(run): it holds a finished run (its results: \(run)/classes.csv)"), "\(rerun.stderr)")
        // Resuming the run that wrote the results file is no replacement.
        let resumed = try TestSupport.run(mgpr, Self.work + ["run_dir=\(run)", "resume=true"], in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("Resuming: 4 of this rank's 4 tiles already done"), "\(resumed.stderr)")
    }

    @Test("resume=true without run_dir continues the newest run of the same work and says which; none: one line")
    func resumeFindsTheRun() throws {
        let directory = try TestSupport.temporaryDirectory()
        let none = try TestSupport.run(mgpr, Self.work + ["resume=true"], in: directory)
        #expect(none.status == 2)
        #expect(none.stderr.contains("resume=true: no run under outputs/ records this work"), "\(none.stderr)")

        let older = try TestSupport.run(mgpr, Self.work, in: directory)
        try #require(older.status == 0, "\(older.stderr)")
        Thread.sleep(forTimeInterval: 1.1)  // run folders are named by the second
        let newer = try TestSupport.run(mgpr, Self.work, in: directory)
        try #require(newer.status == 0, "\(newer.stderr)")
        let other = try TestSupport.run(mgpr, Self.work.map { $0 == "tile_size=32" ? "tile_size=48" : $0 }, in: directory)
        try #require(other.status == 0, "\(other.stderr)")
        let folder = { (result: TestSupport.ProcessResult) -> String? in
            result.stderr.split(separator: "\n").first { $0.contains("Run directory: ") }
                .map { String($0[$0.range(of: "Run directory: ")!.upperBound...]) }
        }
        let newest = try #require(folder(newer))

        let resumed = try TestSupport.run(mgpr, Self.work + ["resume=true"], in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resume=true: continuing \(newest), the newest run under outputs/ with this work"),
                "\(resumed.stderr)")
        #expect(folder(resumed) == "\(newest) (resuming)")
        let days = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("outputs").path)
        let runs = try days.flatMap { try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("outputs/\($0)").path) }
        #expect(runs.count == 3, "resume made no new run folder: \(runs)")
    }
}
