import CUDA
import CUDABackend
import Foundation

/// What `mgpr doctor` says about CUDA: the driver, each library found (where, which
/// version) or missing (where it was looked for, when `verbose`), and each GPU.
enum CUDAReport {
    static func lines(_ cuda: Result<CUDA, CUDAError>, verbose: Bool) -> [(key: String, value: String)] {
        let search = (try? cuda.get())?.search ?? LibrarySearch()
        var lines: [(key: String, value: String)] = []
        for library in CUDALibrary.allCases {
            switch search.locate(library) {
            case .success(.file(let path)), .success(.loaderCache(let path)): lines.append((library.soNames[0], path))
            case .failure(let error): lines.append((library.soNames[0], "MISSING" + (verbose ? ": \(error)" : "")))
            }
        }
        switch cuda {
        case .failure(let error):
            lines.append(("CUDA", "not usable: \(verbose ? error.description : error.brief)"))
        case .success(let cuda):
            lines.append(("CUDA driver", "CUDA \(cuda.driverVersion), \(cuda.deviceCount) GPU(s) visible\(CUDA.visibleDevicesNote)"))
            for ordinal in 0..<cuda.deviceCount {
                do {
                    let backend = try CUDABackend(ordinal: ordinal)
                    let d = backend.device
                    lines.append(("GPU \(ordinal)", "\(d.name), compute capability \(d.computeCapability.major).\(d.computeCapability.minor), "
                        + String(format: "%.1f GiB, %d SMs, PCI %@; cuDNN %@, NVRTC %@", Double(d.totalMemory) / Double(1 << 30),
                                 d.multiprocessors, d.pciBusId, backend.cudnnVersion, backend.nvrtcVersion)))
                } catch {
                    lines.append(("GPU \(ordinal)", "not usable: \(error)"))
                }
            }
        }
        return lines
    }
}
