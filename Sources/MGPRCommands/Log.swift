import Foundation
import Synchronization

/// Log lines in the seed's (Hydra's) format, on stderr:
/// `[2025-05-09 18:50:53,428][mgpr][INFO] - Prediction completed in 101.64 seconds`.
public struct Log: Sendable {
    public enum Level: String, Sendable { case info = "INFO", warning = "WARNING", error = "ERROR" }

    public var name = "mgpr"
    /// Says nothing: for work done on the side (measuring a batch), whose notices the
    /// run itself gives.
    public var quiet = false

    public init(name: String = "mgpr", quiet: Bool = false) { (self.name, self.quiet) = (name, quiet) }

    public func info(_ message: String) { emit(.info, message) }
    public func warning(_ message: String) { emit(.warning, message) }
    public func error(_ message: String) { emit(.error, message) }

    func emit(_ level: Level, _ message: String) {
        guard !quiet else { return }
        Terminal.standardError("[\(Self.timestamp())][\(name)][\(level.rawValue)] - \(message)\n")
    }

    static func timestamp(_ date: Date = Date()) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&seconds, &parts)
        let millis = Int(date.timeIntervalSince1970 * 1000) % 1000
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d,%03d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, millis)
    }
}

/// Writing to the standard streams. Swift 6 cannot touch C's `stderr` global, and
/// unbuffered writes keep progress lines and log lines in order.
///
/// A stream that cannot be written (a full disk, a closed pipe, a closed descriptor) never
/// stops mgpr: what it cannot take is dropped, the other stream is told once, and the run
/// goes on to write its results (SIGPIPE is ignored: see ``ignoreBrokenPipes()``).
/// Commands whose output is their product (`--help`, `--cfg job`, `mgpr slurm`) exit 1
/// when it could not be written (``standardOutputFailed``).
public enum Terminal {
    public static func standardError(_ text: String) { write(text, to: 2) }

    public static func standardOutput(_ text: String) { write(text, to: 1) }

    /// Whether stderr is a terminal (then the progress bar redraws in place).
    public static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Whether anything written to standard output was lost.
    public static var standardOutputFailed: Bool { failures.withLock { $0[1] != nil } }

    /// A closed pipe (`mgpr ... | head`, a killed `tee`) would otherwise kill the process
    /// with SIGPIPE after all its work and before its results are written: ignored, the
    /// write fails with EPIPE instead and is dropped.
    public static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }

    /// A standard stream that was closed (`mgpr ... >&-`) would hand its number to the
    /// next file opened, and the log would be written into a raster or a results file.
    /// Each closed one gets /dev/null, read-only, so writes to it fail and are dropped
    /// as above.
    public static func holdClosedStreams() {
        for descriptor: Int32 in 0...2 where fcntl(descriptor, F_GETFD) == -1 && errno == EBADF {
            let opened = open("/dev/null", O_RDONLY)
            if opened >= 0 && opened != descriptor { close(opened) }  // not the lowest free: leave it
        }
    }

    /// Streams that failed, with the reason.
    private static let failures = Mutex<[Int32: String]>([:])

    private static func write(_ text: String, to descriptor: Int32) {
        guard failures.withLock({ $0[descriptor] == nil }) else { return }
        if let reason = writeAll(inert(text), to: descriptor) {
            let first = failures.withLock { failures in
                defer { failures[descriptor] = reason }
                return failures[descriptor] == nil
            }
            let name = descriptor == 1 ? "standard output" : "standard error"
            if first {
                _ = writeAll("mgpr: cannot write to \(name) (\(reason)): its further output is dropped\n", to: 3 - descriptor)
            }
        }
    }

    /// Everything printed passes here: control characters that could drive a terminal
    /// (an ESC sequence in a label name or a path) are shown as escapes. Newlines,
    /// carriage returns (the progress bar's redraw) and tabs pass.
    static func inert(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { ($0.value < 0x20 && ![0x09, 0x0A, 0x0D].contains($0.value))
            || (0x7F...0x9F).contains($0.value) })
        else { return text }
        return DisplayText.inert(text, limit: .max, keepingNewlines: true)
    }

    /// Writes every byte, retrying interrupted and partial writes; the reason it could
    /// not, or nil.
    private static func writeAll(_ text: String, to descriptor: Int32) -> String? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer -> String? in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += written
            }
            return nil
        }
    }
}
