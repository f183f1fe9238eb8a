import CPUBackend
import Foundation
import Testing
import TestSupport

/// `cpu_threads` bounds the compute: measured from outside (`/usr/bin/time`'s CPU time
/// over wall time) and from the kernel's per-thread CPU times that the summary reports.
/// A run's CPU time over wall time can only fall when other tests share the machine, so
/// the one-thread bound holds in a parallel suite; with two threads the check is that two
/// threads did the work, which the machine's load does not change.
@Suite("cpu_threads bounds the compute")
struct CPUThreadsTests {
    let mgpr = TestSupport.product("mgpr")
    static let cores = CPUCores.current()

    /// A fixed CPU-bound job: ResNet50 on 24 dummy 256 px tiles, one reader.
    func job(_ run: URL, _ extra: [String]) -> [String] {
        ["model=resnet50", "tile_size=256", "batch_size=2", "dummy_dataset_count=24", "dummy_dataset_delay=0", "workers=1",
         "precision=32", "output=none", "run_dir=\(run.path)"] + extra
    }

    func summary(_ run: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("summary.json"))) as! [String: Any]
    }

    func computeThreads(_ summary: [String: Any]) -> [Int] {
        (summary["devices"] as? [[String: Any]] ?? []).compactMap { $0["compute_threads"] as? Int }
    }

    @Test("cpu_threads=1 keeps the whole process near one core, and one thread does the compute",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs /usr/bin/time (Debian's time)"))
    func oneThread() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        let times = directory.appendingPathComponent("time.txt").path
        let result = try TestSupport.run("/usr/bin/time", ["-o", times, "-f", "%e %U %S", mgpr] + job(run, ["cpu_threads=1"]))
        #expect(result.status == 0, "\(result.stderr)")
        let measured = try String(contentsOfFile: times, encoding: .utf8).split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        try #require(measured.count == 3)
        let cores = (measured[1] + measured[2]) / measured[0]
        #expect(cores <= 1.2, "cpu_threads=1 used \(cores) cores (\(measured[1] + measured[2]) s CPU over \(measured[0]) s)")
        let s = try summary(run)
        #expect(computeThreads(s) == [1])
        let cpu = try #require(s["cpu_seconds"] as? Double), elapsed = try #require(s["elapsed_seconds"] as? Double)
        #expect(cpu / elapsed <= 1.2, "summary: \(cpu) s CPU over \(elapsed) s")
        #expect(cpu > 0.5 * elapsed, "the job is CPU-bound: \(cpu) s CPU over \(elapsed) s")
        #expect(result.stderr.contains("1 thread)"))
        #expect(result.stdout.contains("Compute Threads Used: 1 ("))
        #expect(result.stdout.contains("cores busy on average"))
    }

    @Test("cpu_threads=2 runs the compute on two threads", .enabled(if: cores.usable >= 2, "this process may use \(cores) core"))
    func twoThreads() throws {
        let run = try TestSupport.temporaryDirectory().appendingPathComponent("run")
        let result = try TestSupport.run(mgpr, job(run, ["cpu_threads=2"]))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(computeThreads(try summary(run)) == [2])
        #expect(result.stdout.contains("Compute Threads Used: 2 ("))
    }

    @Test("by default a run takes the cores its CPU affinity allows, not the machine's",
          .enabled(if: cores.machine >= 2 && FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset"),
                   "needs two cores and taskset"))
    func affinity() throws {
        let run = try TestSupport.temporaryDirectory().appendingPathComponent("run")
        let result = try TestSupport.run("/usr/bin/taskset", ["-c", "0", mgpr] + job(run, []))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("1 thread)"))
        #expect(computeThreads(try summary(run)) == [1])
        let doctor = try TestSupport.run("/usr/bin/taskset", ["-c", "0", mgpr, "doctor"])
        #expect(doctor.stdout.contains("1 of \(Self.cores.machine) (CPU affinity)"), "\(doctor.stdout)")
        let twoDevices = try TestSupport.run("/usr/bin/taskset", ["-c", "0", mgpr, "gpus=2", "accelerator=cpu", "model=none"])
        #expect(twoDevices.status != 0)
        #expect(twoDevices.stderr.contains("this process may use 1 of \(Self.cores.machine) (CPU affinity) cores"), "\(twoDevices.stderr)")
    }
}
