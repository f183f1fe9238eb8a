import Foundation
import Synchronization

/// The process's view of CUDA: the driver, opened and initialised once, and the other
/// libraries opened the first time something needs them. Every failure is a
/// ``CUDAError`` naming what is missing and where it was looked for.
public final class CUDA: Sendable {
    /// The one instance, or why there is none (no driver, no device...).
    public static let shared: Result<CUDA, CUDAError> = Result { () throws(CUDAError) in try CUDA(search: LibrarySearch()) }

    public let search: LibrarySearch
    package let driver: Driver
    /// The driver's CUDA version, e.g. "13.0".
    public let driverVersion: String
    /// GPUs this process may use (after CUDA_VISIBLE_DEVICES).
    public let deviceCount: Int
    private let opened = Mutex<[CUDALibrary: Result<DynamicLibrary, CUDAError>]>([:])
    private let devices = Mutex<[Int: CUDADevice]>([:])

    package init(search: LibrarySearch) throws(CUDAError) {
        self.search = search
        driver = try Driver(Self.open(.driver, search))
        try driver.check(driver.cuInit(0), "cuInit")
        var version: Int32 = 0, count: Int32 = 0
        try driver.check(driver.cuDriverGetVersion(&version), "cuDriverGetVersion")
        driverVersion = "\(version / 1000).\(version % 1000 / 10)"
        try driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount")
        deviceCount = Int(count)
    }

    /// Opens `library` where the search finds it.
    package static func open(_ library: CUDALibrary, _ search: LibrarySearch) throws(CUDAError) -> DynamicLibrary {
        switch search.locate(library) {
        case .success(.file(let path)), .success(.loaderCache(let path)): return try DynamicLibrary(path: path)
        case .failure(let error): throw error
        }
    }

    /// `library`, opened once per process.
    package func library(_ library: CUDALibrary) throws(CUDAError) -> DynamicLibrary {
        let result = opened.withLock { opened in
            if let done = opened[library] { return done }
            let result = Result { () throws(CUDAError) in try Self.open(library, search) }
            opened[library] = result
            return result
        }
        return try result.get()
    }

    /// NVRTC, for compiling kernels.
    package func nvrtc() throws(CUDAError) -> NVRTC { try NVRTC(library(.nvrtc)) }

    /// cuDNN. cuBLASLt is opened first where it can be found, so that cuDNN's engines
    /// that need it find it by name even when it sits in a Python wheel's folder.
    package func cudnn() throws(CUDAError) -> CUDNN {
        _ = try? library(.cublasLt)
        return try CUDNN(library(.cudnn))
    }

    /// NVML, or nil where the driver's management library is absent.
    package func nvml() -> NVML? { try? NVML(library(.nvml)) }

    /// GPU `ordinal` (as this process numbers them), set up once.
    public func device(_ ordinal: Int) throws(CUDAError) -> CUDADevice {
        guard ordinal >= 0 && ordinal < deviceCount else {
            throw .noDevice("GPU \(ordinal) does not exist: this process sees \(deviceCount) GPU(s)\(Self.visibleDevicesNote)")
        }
        let result = devices.withLock { devices -> Result<CUDADevice, CUDAError> in
            if let device = devices[ordinal] { return .success(device) }
            let result = Result { () throws(CUDAError) in try CUDADevice(cuda: self, ordinal: ordinal) }
            if case .success(let device) = result { devices[ordinal] = device }
            return result
        }
        return try result.get()
    }

    public static var visibleDevicesNote: String {
        ProcessInfo.processInfo.environment["CUDA_VISIBLE_DEVICES"].map { " (CUDA_VISIBLE_DEVICES=\($0))" } ?? ""
    }
}
