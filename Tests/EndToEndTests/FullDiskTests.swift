import Foundation
import Testing
import TestSupport

/// A run directory on a real file system that fills up: a small tmpfs, which only root
/// may mount.
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
}
