import Foundation

/// Resident memory of this process, from /proc (Linux).
public enum ProcessMemory {
    /// Peak resident set size (VmHWM), in bytes; 0 where /proc is absent.
    public static var peakResidentBytes: Int { field("VmHWM:") }

    private static func field(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first
            return (kb.flatMap { Int($0) } ?? 0) * 1024
        }
        return 0
    }

    /// Total memory of the machine, in bytes.
    public static var physicalBytes: Int { Int(ProcessInfo.processInfo.physicalMemory) }
}
