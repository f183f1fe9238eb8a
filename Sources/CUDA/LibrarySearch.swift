import Foundation
import Platform

/// The NVIDIA libraries mgpr opens at run time; none is needed to build it.
public enum CUDALibrary: String, CaseIterable, Sendable {
    case driver, nvrtc, cudnn, cublasLt, nvml

    /// File names, newest first.
    public var soNames: [String] {
        switch self {
        case .driver: ["libcuda.so.1"]
        case .nvrtc: ["libnvrtc.so.13", "libnvrtc.so.12"]
        case .cudnn: ["libcudnn.so.9"]
        case .cublasLt: ["libcublasLt.so.13", "libcublasLt.so.12"]
        case .nvml: ["libnvidia-ml.so.1"]
        }
    }

    public var role: String {
        switch self {
        case .driver: "the NVIDIA driver's CUDA library"
        case .nvrtc: "NVRTC, CUDA's run-time compiler"
        case .cudnn: "cuDNN 9"
        case .cublasLt: "cuBLASLt, which cuDNN uses"
        case .nvml: "NVML, the driver's management library"
        }
    }

    package var installHint: String {
        switch self {
        case .driver, .nvml: "the NVIDIA driver (nvidia-smi should list the GPUs)"
        case .nvrtc: "the CUDA toolkit, or `pip install nvidia-cuda-nvrtc` (CUDA 13) in the active Python environment"
        case .cudnn: "cuDNN 9: `pip install nvidia-cudnn-cu13` (or nvidia-cudnn-cu12) in the active Python environment, or NVIDIA's libcudnn9 package"
        case .cublasLt: "cuBLAS: `pip install nvidia-cublas` (CUDA 13) in the active Python environment, or the CUDA toolkit"
        }
    }

    /// Where NVIDIA's Python wheels put it, relative to `site-packages`.
    package var wheelFolders: [String] {
        switch self {
        case .driver, .nvml: []
        case .nvrtc: ["nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"]
        case .cudnn: ["nvidia/cudnn/lib"]
        case .cublasLt: ["nvidia/cu13/lib", "nvidia/cublas/lib"]
        }
    }
}

/// Finds the NVIDIA libraries where cluster users have them, in this order: the folders
/// in MGPR_CUDA_LIBRARY_PATH; CUDA_HOME and CUDA_PATH; LD_LIBRARY_PATH; the system's
/// folders (and the loader's cache); then the NVIDIA wheels of the active Python
/// environments (a virtualenv, conda, the `python3` on PATH, the user's site), since
/// many users have cuDNN only inside a PyTorch environment.
public struct LibrarySearch: Sendable {
    public static let systemFolders = [
        "/usr/local/cuda/lib64", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu",
        "/usr/lib64", "/usr/lib/wsl/lib", "/usr/lib",
    ]
    /// Names the loader's own search (its cache, /etc/ld.so.conf) in the list of places tried.
    public static let loaderCache = "the loader's cache (ldconfig)"

    public let environment: [String: String]
    /// This mgpr's own path: installed from the wheel it sits in `site-packages/mgpr/bin`,
    /// beside the NVIDIA wheels `pip install mgpr[cuda]` put there, venv active or not.
    public let executable: String?
    private let fileExists: @Sendable (String) -> Bool
    private let listFolder: @Sendable (String) -> [String]

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        executable: String? = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
        fileExists: @escaping @Sendable (String) -> Bool = { FileManager.default.fileExists(atPath: $0) },
        listFolder: @escaping @Sendable (String) -> [String] = { (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? [] }
    ) {
        self.environment = environment
        self.executable = executable
        self.fileExists = fileExists
        self.listFolder = listFolder
    }

    /// The places searched for `library`, in order; `loaderCache` stands for the loader.
    public func folders(for library: CUDALibrary) -> [String] {
        func split(_ key: String) -> [String] {
            (environment[key] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        var folders = split("MGPR_CUDA_LIBRARY_PATH")
        for key in ["CUDA_HOME", "CUDA_PATH"] {
            if let root = environment[key], !root.isEmpty {
                folders += ["\(root)/lib64", "\(root)/lib", "\(root)/targets/x86_64-linux/lib"]
            }
        }
        folders += split("LD_LIBRARY_PATH")
        folders += Self.systemFolders + [Self.loaderCache]
        for site in sitePackages() {
            folders += library.wheelFolders.map { "\(site)/\($0)" }
            // Other NVIDIA wheels (CUDA 12 puts each library in nvidia/<name>/lib).
            folders += listFolder("\(site)/nvidia").sorted().map { "\(site)/nvidia/\($0)/lib" }
        }
        var seen = Set<String>()
        return folders.filter { seen.insert($0).inserted }
    }

    /// `site-packages` folders of the Python environments a user may have active.
    package func sitePackages() -> [String] {
        var sites: [String] = []
        if let executable, executable.hasSuffix("/site-packages/mgpr/bin/mgpr") {
            sites.append(String(executable.dropLast("/mgpr/bin/mgpr".count)))
        }
        var prefixes: [String] = []
        for key in ["VIRTUAL_ENV", "CONDA_PREFIX"] { if let p = environment[key], !p.isEmpty { prefixes.append(p) } }
        for dir in (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        where fileExists("\(dir)/python3") {
            prefixes.append(PathText.parent(of: dir))
        }
        for prefix in prefixes {
            for entry in listFolder("\(prefix)/lib").sorted() where entry.hasPrefix("python3") {
                sites.append("\(prefix)/lib/\(entry)/site-packages")
            }
        }
        if let home = environment["HOME"] {
            for entry in listFolder("\(home)/.local/lib").sorted() where entry.hasPrefix("python3") {
                sites.append("\(home)/.local/lib/\(entry)/site-packages")
            }
        }
        return sites
    }

    /// Where `library` is: a file's path, or its bare name where only the loader's cache
    /// can tell (the driver's libraries usually live there).
    public enum Location: Equatable, Sendable {
        case file(String)
        case loaderCache(String)
    }

    /// The first place holding `library`, or the error listing every place tried.
    public func locate(_ library: CUDALibrary, loaderHas: (String) -> Bool = Self.loaderCanOpen) -> Result<Location, CUDAError> {
        let folders = folders(for: library)
        for folder in folders {
            for name in library.soNames {
                if folder == Self.loaderCache {
                    if loaderHas(name) { return .success(.loaderCache(name)) }
                } else if fileExists("\(folder)/\(name)") {
                    return .success(.file("\(folder)/\(name)"))
                }
            }
        }
        return .failure(.libraryNotFound(library, tried: folders))
    }

    /// Whether the loader finds `name` by itself (without loading it: RTLD_NOLOAD would
    /// only see loaded ones, so this asks ldconfig's cache file for the name).
    public static func loaderCanOpen(_ name: String) -> Bool {
        guard let cache = FileManager.default.contents(atPath: "/etc/ld.so.cache") else { return false }
        return cache.range(of: Data(name.utf8)) != nil
    }
}
