import Configuration
import Foundation
import Platform
import Raster

/// Where a run's results go, decided and checked before the first tile is read: the
/// `output` given, or a file in the run directory when none is (results are kept by
/// default), or nowhere with `output=none` (the seed's discard, for benchmarking).
enum ResultsTarget {
    /// The output path of this run, or nil when results are not kept.
    static func resolve(_ config: RunConfig, runDirectory: String) -> String? {
        if config.output?.lowercased() == "none" { return nil }
        if let output = config.output { return output }
        return config.model.defaultOutput.map { (runDirectory as NSString).appendingPathComponent($0) }
    }

    /// Checks an `output` given for `model`: a file that can be written, of a format the
    /// model writes ("none" passes: nothing is written).
    static func check(_ output: String, model: ModelName) throws(ConfigError) {
        let lower = output.lowercased()
        if lower == "none" { return }
        if let problem = problem(writingFile: output) {
            throw .invalidValue(key: "output", value: output, reason: problem)
        }
        let formats = model.outputFormats
        guard formats.extensions.contains(where: { lower.hasSuffix($0) }) else {
            throw .invalidValue(key: "output", value: output, reason: formats.description)
        }
    }

    /// Why `path` could not be written as a file (nil: it can): not a folder, and the
    /// file or its nearest existing folder writable, so a run never learns at its end
    /// that its results have nowhere to go.
    static func problem(writingFile path: String) -> String? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return "it is a folder; give a file name" }
            return access(path, W_OK) == 0 ? nil : "it is not writable (\(String(cString: strerror(errno))))"
        }
        return problem(creatingIn: PathText.parent(of: path))
    }

    /// Why a file or folder could not be created under `folder` (nil: it can).
    static func problem(creatingIn folder: String) -> String? {
        var ancestor = folder.isEmpty ? "." : folder
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory) {
            let parent = PathText.parent(of: ancestor)
            ancestor = parent.isEmpty ? "." : parent
        }
        if !isDirectory.boolValue { return "\(ancestor) is a file, not a folder" }
        if access(ancestor, W_OK) != 0 { return "\(ancestor) is not writable (\(String(cString: strerror(errno))))" }
        return nil
    }
}
