import Configuration
import Foundation

/// One run per rank folder at a time: an exclusive `flock` on `rank-N/lock`, held for
/// the life of the process and released by the kernel however it ends (even kill -9),
/// so a stale lock never blocks a resume. The ranks of one job lock different folders
/// and share the run directory as designed; a second run of the same rank is refused
/// before it touches a file, naming the holder.
final class RunLock {
    private let descriptor: Int32

    init(path: String, runDirectory: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CommandError.runDirectory(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.holder(fd)
            close(fd)
            throw ConfigError.invalidValue(
                key: "run_dir", value: runDirectory,
                reason: "another mgpr run is using it (\(holder)); wait for it to end, or give another run_dir")
        }
        descriptor = fd
        let me = "host \(ProcessInfo.processInfo.hostName), pid \(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = me.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { close(descriptor) }  // closing releases the lock

    private static func holder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buffer, buffer.count, 0)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        return text.isEmpty ? "holder unknown" : text
    }
}
