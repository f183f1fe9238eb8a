/// Failures of the commands themselves (not of the configuration or the raster).
public enum CommandError: Error, CustomStringConvertible {
    case runDirectory(path: String, reason: String)
    case gpuUnavailable(accelerator: String, reason: String)
    case writeFailed(path: String, reason: String)
    case resultsNotWritten(path: String, reason: String, runDirectory: String)

    public var description: String {
        switch self {
        case .runDirectory(let path, let reason):
            "cannot write the run directory \(path): \(reason) (set run_dir to a writable folder)"
        case .gpuUnavailable(let accelerator, let reason):
            "accelerator=\(accelerator) but no NVIDIA GPU is usable: \(reason) (or use accelerator=cpu, or auto to fall back to the CPU)"
        case .writeFailed(let path, let reason):
            "cannot write \(path): \(reason)"
        case .resultsNotWritten(let path, let reason, let runDirectory):
            "the results file \(path) could not be written (\(reason)); every rank's results are kept in "
                + "\(runDirectory)/rank-*/: fix that, then run `mgpr merge run_dir=\(runDirectory)` (output=PATH to choose another file)"
        }
    }
}
