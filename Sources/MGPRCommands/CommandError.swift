/// Failures of the commands themselves (not of the configuration or the raster).
public enum CommandError: Error, CustomStringConvertible {
    case runDirectory(path: String, reason: String)
    case noGPUBackend
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .runDirectory(let path, let reason):
            "cannot write the run directory \(path): \(reason) (set run_dir to a writable folder)"
        case .noGPUBackend:
            "accelerator=gpu: this build of mgpr runs on the CPU only; use accelerator=cpu or accelerator=auto"
        case .writeFailed(let path, let reason):
            "cannot write \(path): \(reason)"
        }
    }
}
