/// Everything that can go wrong reaching or using an NVIDIA GPU, each as one line that
/// names the library, call or kernel and says what to do.
public enum CUDAError: Error, CustomStringConvertible, Sendable {
    case libraryNotFound(CUDALibrary, tried: [String])
    case libraryUnusable(path: String, reason: String)
    case missingSymbol(library: String, symbol: String)
    case driver(call: String, code: Int32, name: String, message: String)
    case cudnn(call: String, code: Int32, message: String)
    case nvrtc(call: String, message: String)
    case compile(kernel: String, architecture: String, log: String)
    case nvml(call: String, message: String)
    case noDevice(String)

    /// The same in a few words, for a run's log on a machine without GPUs: the places a
    /// library was looked for belong to `mgpr doctor -v` and to accelerator=gpu's error.
    public var brief: String {
        switch self {
        case .libraryNotFound(let library, _): "\(library.soNames[0]) (\(library.role)) not found"
        default: description
        }
    }

    public var description: String {
        switch self {
        case .libraryNotFound(let library, let tried):
            "\(library.soNames.joined(separator: " or ")) (\(library.role)) not found; tried \(tried.joined(separator: ", ")); "
                + "install \(library.installHint), or name its folder in MGPR_CUDA_LIBRARY_PATH"
        case .libraryUnusable(let path, let reason): "\(path) could not be loaded: \(reason)"
        case .missingSymbol(let library, let symbol):
            "\(library) has no \(symbol): it is older than mgpr needs (or not the library it is named after)"
        case .driver(let call, let code, let name, let message): "\(call) failed: \(name) (\(code)): \(message)"
        case .cudnn(let call, let code, let message): "\(call) failed: \(message) (cuDNN status \(code))"
        case .nvrtc(let call, let message): "\(call) failed: \(message)"
        case .compile(let kernel, let architecture, let log): "NVRTC could not compile \(kernel) for \(architecture): \(log)"
        case .nvml(let call, let message): "\(call) failed: \(message)"
        case .noDevice(let reason): reason
        }
    }
}
