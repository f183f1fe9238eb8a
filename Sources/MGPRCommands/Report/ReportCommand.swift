import Cluster
import Configuration
import Foundation
import Platform
import Results

/// `mgpr report run_dir=DIR`: (re)writes `DIR/report.html` from what the run left, for
/// a run of any number of ranks, finished or not. Runs write it themselves at the end.
struct ReportCommand {
    let config: RunConfig

    func run() throws -> Int32 {
        guard let root = config.runDir else {
            throw ConfigError.invalidValue(key: "run_dir", value: "null", reason: "mgpr report needs the run directory to report on")
        }
        let path = try Self.write(root: root)
        Terminal.standardOutput("Report: \(path)\n")
        return 0
    }

    /// Writes the report of the run in `root`; returns its path.
    @discardableResult
    static func write(root: String) throws -> String {
        let path = (root as NSString).appendingPathComponent("report.html")
        let html = ReportPage.html(try RunReport.load(root))
        do { try AtomicFile.write(html, to: path) } catch {
            guard case .writeFailed(_, let reason) = error else { throw error }
            throw CommandError.writeFailed(path: path, reason: reason)
        }
        return path
    }
}
