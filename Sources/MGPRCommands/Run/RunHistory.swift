import Cluster
import Configuration
import Foundation

/// The runs already on disk: which one `resume=true` continues when no run_dir is given,
/// and what a new run must not replace without being told (`overwrite=true`).
enum RunHistory {
    /// What a run directory holds before this run touches it.
    enum Holding: Equatable {
        case nothing
        case unfinished(done: Int)
        case finished(output: String?)
    }

    static func holding(_ layout: RunLayout) -> Holding {
        let ranks = layout.ranksPresent
        guard FileManager.default.fileExists(atPath: layout.workFile) || !ranks.isEmpty else { return .nothing }
        let statuses = ranks.map(layout.readStatus)
        if !statuses.isEmpty, statuses.allSatisfy({ $0?.state == .finished }) {
            return .finished(output: statuses.first??.output)
        }
        return .unfinished(done: layout.journaledTileCount)
    }

    /// The run folders under `root` (`outputs/DAY/TIME` and `outputs/slurm-JOB`) whose
    /// recorded work is `work`, the most recently started first.
    static func runs(matching work: WorkIdentity, under root: String = "outputs") -> [String] {
        let files = FileManager.default
        func folders(_ path: String) -> [String] {
            ((try? files.contentsOfDirectory(atPath: path)) ?? []).map { (path as NSString).appendingPathComponent($0) }
        }
        let candidates = folders(root) + folders(root).flatMap(folders)
        let matching = candidates.compactMap { folder -> (String, Date)? in
            let layout = RunLayout(root: folder)
            guard let recorded = (try? layout.readWork()) ?? nil, work.differences(from: recorded).isEmpty,
                let started = (try? files.attributesOfItem(atPath: layout.workFile))?[.modificationDate] as? Date
            else { return nil }
            return (folder, started)
        }
        return matching.sorted { $0.1 > $1.1 }.map(\.0)
    }

    /// Refuses to replace a run or a results file without `overwrite=true`: a run directory
    /// that holds a run (finished, or with tiles done) when this is not a resume, and an
    /// existing results file unless this resumes the run that wrote it.
    static func checkNothingReplaced(
        _ config: RunConfig, layout: RunLayout, holding: Holding, resume: Bool, output: String?
    ) throws {
        guard !config.overwrite else { return }
        if !resume {
            switch holding {
            case .nothing: break
            case .finished(let output):
                throw ConfigError.invalidValue(
                    key: "run_dir", value: layout.root,
                    reason: "it holds a finished run\(output.map { " (its results: \($0))" } ?? ""); give another run_dir "
                        + "(or none, for a new one under outputs/), or overwrite=true to run it again from scratch")
            case .unfinished(let done):
                throw ConfigError.invalidValue(
                    key: "run_dir", value: layout.root,
                    reason: "it holds an unfinished run (\(done) tile\(done == 1 ? "" : "s") done): resume=true continues it, "
                        + "overwrite=true starts it again from scratch")
            }
        }
        guard let output, FileManager.default.fileExists(atPath: output) else { return }
        if resume, layout.ranksPresent.compactMap(layout.readStatus).contains(where: { $0.output == output }) { return }
        throw ConfigError.invalidValue(
            key: "output", value: output, reason: "the file exists; overwrite=true replaces it, or choose another output")
    }

    /// The command that continues a stopped run: the same arguments, with its run
    /// directory and resume=true, quoted for a POSIX shell where needed.
    static func resumeCommand(arguments: [String], runDirectory: String) -> String {
        let kept = arguments.filter { !$0.hasPrefix("run_dir=") && !$0.hasPrefix("resume=") }
        return (["mgpr"] + kept + ["run_dir=\(runDirectory)", "resume=true"]).map(shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "-_=./:,@%+".unicodeScalars.contains($0)
        }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
