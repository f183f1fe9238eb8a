import Foundation
import Testing
import TestSupport

/// Writing to its own standard streams never stops mgpr: a full disk (`/dev/full`), a
/// closed descriptor and a pipe whose reader is gone each cost only what could not be
/// written, said once on the other stream; a run still writes its results.
@Suite("mgpr's own output streams")
struct OutputStreamTests {
    let mgpr = TestSupport.product("mgpr")

    /// Runs `script` in bash with $0 = mgpr.
    func shell(_ script: String, in directory: URL? = nil) throws -> TestSupport.ProcessResult {
        try TestSupport.run("/bin/bash", ["-c", script, mgpr], in: directory)
    }

    func job(_ directory: URL) -> String {
        "model=resnet50 tile_size=64 use_fake_data=true dummy_dataset_count=8 dummy_dataset_delay=0 workers=1 precision=32 "
            + "run_dir=\(directory.path)/run output=\(directory.path)/classes.csv"
    }

    func rows(_ directory: URL) throws -> Int {
        try String(contentsOfFile: directory.appendingPathComponent("classes.csv").path, encoding: .utf8)
            .split(separator: "\n").count - 1
    }

    @Test("a command whose product is its output exits 1 with one line when the output cannot be written")
    func productLost() throws {
        for (script, reason) in [("\"$0\" --help >/dev/full", "No space left on device"),
                                 ("\"$0\" --cfg job >/dev/full", "No space left on device"),
                                 ("\"$0\" slurm accelerator=gpu image_path=x.tif >/dev/full", "No space left on device"),
                                 ("\"$0\" --help >&-", "Bad file descriptor")] {
            let directory = try TestSupport.temporaryDirectory()
            let result = try shell(script, in: directory)
            #expect(result.status == 1, "\(script): \(result.status) \(result.stderr)")
            let notice = "mgpr: cannot write to standard output (\(reason)): its further output is dropped\n"
            #expect(result.stderr.hasSuffix(notice), "\(script): \(result.stderr)")
            #expect(result.stderr.components(separatedBy: "cannot write").count == 2, "said once: \(result.stderr)")
        }
        let quietFailure = try shell("\"$0\" --help 2>/dev/full")
        #expect(quietFailure.status == 0 && quietFailure.stdout.contains("cpu_threads"))
    }

    @Test("a run whose log cannot be written still writes its results, summary and report, exit 0")
    func runGoesOn() throws {
        for (label, redirect) in [("stdout full", ">/dev/full"), ("stderr full", "2>/dev/full"), ("stdout closed", ">&-"),
                                  ("both closed", ">&- 2>&-")] {
            let directory = try TestSupport.temporaryDirectory()
            let result = try shell("\"$0\" \(job(directory)) \(redirect)")
            #expect(result.status == 0, "\(label): \(result.stderr)")
            #expect(try rows(directory) == 8, "\(label)")
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("run/summary.json").path), "\(label)")
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("run/report.html").path), "\(label)")
            #expect(!result.stderr.contains("Fatal error"), "\(label)")
        }
    }

    @Test("a pipe whose reader is gone (| head) does not kill the run: results written, exit 0")
    func brokenPipe() throws {
        let directory = try TestSupport.temporaryDirectory()
        let result = try shell("set -o pipefail; \"$0\" \(job(directory)) | head -c 10")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.count == 10)
        #expect(try rows(directory) == 8)
        #expect(result.stderr.contains("mgpr: cannot write to standard output (Broken pipe)"), "\(result.stderr)")
        #expect(result.stderr.contains("Prediction completed in"))
    }
}
