import Configuration
import Foundation
import Pipeline
import Platform

/// The folder a run writes into: `run_dir`, or Hydra's `outputs/YYYY-MM-DD/HH-MM-SS`.
public struct RunDirectory: Sendable {
    public let path: String

    /// Creates the folder (and a fresh one per run when it is derived from the clock).
    public init(configured: String?, now: Date = Date()) throws {
        if let configured {
            path = configured
        } else {
            let stamp = Log.timestamp(now)  // "YYYY-MM-DD HH:MM:SS,mmm"
            let day = String(stamp.prefix(10))
            let time = String(stamp.dropFirst(11).prefix(8)).replacingOccurrences(of: ":", with: "-")
            var candidate = "outputs/\(day)/\(time)"
            // Two runs started in the same second must not mix their files.
            var n = 1
            while FileManager.default.fileExists(atPath: candidate) {
                candidate = "outputs/\(day)/\(time)-\(n)"
                n += 1
            }
            path = candidate
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CommandError.runDirectory(path: path, reason: "it is a file") }
            guard access(path, W_OK) == 0 else {
                throw CommandError.runDirectory(path: path, reason: "it is not writable (\(String(cString: strerror(errno))))")
            }
        } else if let problem = ResultsTarget.problem(creatingIn: path) {
            throw CommandError.runDirectory(path: path, reason: problem)
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CommandError.runDirectory(path: path, reason: SystemError.reason(error))
        }
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Saves the resolved configuration, as Hydra keeps it with each run.
    public func saveConfig(_ settings: Settings) throws {
        do {
            try settings.yaml.write(toFile: file("config.yaml"), atomically: true, encoding: .utf8)
        } catch {
            throw CommandError.runDirectory(path: path, reason: SystemError.reason(error))
        }
    }
}
