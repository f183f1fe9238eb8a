import Foundation
import Testing
import TestSupport

/// A run directory on a real file system that fills up: a small tmpfs, which only root
/// may mount. Results and journal agree after the failure, and a resume loses no tile.
@Suite("A full disk", .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
struct FullDiskTests {
    let mgpr = TestSupport.product("mgpr")

    @Test("a full disk stops the run with one line naming the file and the reason")
    func fullDisk() throws {
        let directory = try TestSupport.temporaryDirectory()
        let disk = directory.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        let mount = try TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", disk.path])
        try #require(mount.status == 0, "mount: \(mount.stderr)")
        defer { _ = try? TestSupport.run("/bin/umount", [disk.path]) }
        let result = try TestSupport.run(
            mgpr, ["model=resnet50", "tile_size=32", "batch_size=8", "dummy_dataset_count=4000", "dummy_dataset_delay=0",
                   "workers=1", "precision=32", "run_dir=\(disk.path)/run"])
        #expect(result.status == 1, "\(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.contains("error:") }
        #expect(errors.count == 1 && errors[0].hasSuffix("No space left on device") && errors[0].contains("\(disk.path)/run/"),
                "\(errors)")
    }

    @Test("after a full disk, freeing space and resuming gives exactly the uninterrupted run's results")
    func resumeAfterFullDisk() throws {
        let directory = try TestSupport.temporaryDirectory()
        let arguments = ["model=resnet50", "tile_size=32", "batch_size=8", "dummy_dataset_count=600", "dummy_dataset_delay=0",
                         "workers=1", "precision=32"]
        let whole = try TestSupport.run(mgpr, arguments + ["run_dir=\(directory.path)/whole"])
        #expect(whole.status == 0, "\(whole.stderr)")
        let disk = directory.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        try #require(try TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=24k", "tmpfs", disk.path]).status == 0)
        defer { _ = try? TestSupport.run("/bin/umount", [disk.path]) }
        let full = try TestSupport.run(mgpr, arguments + ["run_dir=\(disk.path)/run"])
        #expect(full.status == 1 && full.stderr.contains("No space left on device"), "\(full.stderr)")
        #expect(try TestSupport.run("/bin/mount", ["-o", "remount,size=8m", disk.path]).status == 0)
        let resumed = try TestSupport.run(mgpr, arguments + ["run_dir=\(disk.path)/run", "resume=true"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try String(contentsOfFile: "\(directory.path)/whole/classes.csv", encoding: .utf8)
        let b = try String(contentsOfFile: "\(disk.path)/run/classes.csv", encoding: .utf8)
        #expect(a == b && a.split(separator: "\n").count == 601)
    }
}
