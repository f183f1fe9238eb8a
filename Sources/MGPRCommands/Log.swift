import Foundation

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
public enum Terminal {
    public static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    public static func standardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Whether stderr is a terminal (then the progress bar redraws in place).
    public static var stderrIsTerminal: Bool { isatty(2) == 1 }
}
