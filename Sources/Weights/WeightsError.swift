/// Why a weights file cannot be used; each case names the file and the key.
public enum WeightsError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    case unsupportedFormat(path: String)
    case notAFile(path: String, kind: String)
    case malformed(path: String, reason: String)
    /// The pickle asked for something a state_dict never needs (code, a module).
    case forbidden(path: String, what: String)
    case notAStateDict(path: String, found: String)
    case missingKey(path: String, key: String)
    case unexpectedKey(path: String, key: String)
    case shapeMismatch(path: String, key: String, expected: [Int], found: [Int])
    /// Read again during a run (to compile a plan for a new shape), the file was not the one first read.
    case changedDuringRun(path: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "weights file not found: \(path)"
        case .unsupportedFormat(let path):
            "weights \(path): unknown format; give a .safetensors file or a .pth/.pt written by torch.save(model.state_dict())"
        case .notAFile(let path, let kind):
            "weights \(path) is \(kind), not a file: give the .safetensors or .pth file itself"
        case .malformed(let path, let reason):
            "weights \(path) is damaged or not what its name says: \(reason)"
        case .forbidden(let path, let what):
            "weights \(path) asks to run \(what); a weights file must be a plain state_dict and mgpr never runs code from it "
                + "(save it with torch.save(model.state_dict(), path))"
        case .notAStateDict(let path, let found):
            "weights \(path) holds \(found), not a state_dict; save model.state_dict() instead of the model"
        case .missingKey(let path, let key):
            "weights \(path) lack '\(key)', which the model needs (do the weights belong to this model?)"
        case .unexpectedKey(let path, let key):
            "weights \(path) hold '\(key)', which the model does not have (do the weights belong to this model?)"
        case .shapeMismatch(let path, let key, let expected, let found):
            "weights \(path): '\(key)' has shape \(found) but the model needs \(expected)"
        case .changedDuringRun(let path):
            "weights \(path) changed during the run, which needed to read them again; put back the file the run started with "
                + "and run again (it resumes), or start a new run (another run_dir) with the new weights"
        }
    }
}
