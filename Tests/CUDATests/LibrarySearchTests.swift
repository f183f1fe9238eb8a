@testable import CUDA
@testable import CUDABackend
import Foundation
import Testing

@Suite("CUDA library search")
struct LibrarySearchTests {
    /// A file system of the given files (and the folders they imply).
    static func search(_ environment: [String: String], files: Set<String>, executable: String? = nil) -> LibrarySearch {
        LibrarySearch(
            environment: environment, executable: executable, fileExists: { files.contains($0) },
            listFolder: { folder in
                Array(Set(files.compactMap { file -> String? in
                    guard file.hasPrefix(folder + "/") else { return nil }
                    return file.dropFirst(folder.count + 1).split(separator: "/").first.map(String.init)
                }))
            })
    }

    @Test("the explicit folder, CUDA_HOME, LD_LIBRARY_PATH, the system, then Python wheels, in that order")
    func order() throws {
        let s = Self.search(
            ["MGPR_CUDA_LIBRARY_PATH": "/opt/mine", "CUDA_HOME": "/cuda", "LD_LIBRARY_PATH": "/ld1:/ld2",
             "VIRTUAL_ENV": "/venv", "PATH": "/usr/bin"],
            files: ["/venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9"])
        let folders = s.folders(for: .cudnn)
        let expectedStart = ["/opt/mine", "/cuda/lib64", "/cuda/lib", "/cuda/targets/x86_64-linux/lib", "/ld1", "/ld2"]
        #expect(Array(folders.prefix(expectedStart.count)) == expectedStart)
        let system = folders.firstIndex(of: "/usr/lib/x86_64-linux-gnu")!, wheel = folders.firstIndex(of: "/venv/lib/python3.12/site-packages/nvidia/cudnn/lib")!
        #expect(system < wheel)
        #expect(try s.locate(.cudnn, loaderHas: { _ in false }).get() == (.file("/venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9")))
    }

    @Test("an earlier place wins over a wheel; the loader's cache is asked where the system folders are")
    func precedence() throws {
        let s = Self.search(
            ["LD_LIBRARY_PATH": "/ld", "PATH": "/env/bin"],
            files: ["/ld/libnvrtc.so.12", "/env/bin/python3", "/env/lib/python3.11/site-packages/nvidia/cu13/lib/libnvrtc.so.13"])
        #expect(try s.locate(.nvrtc, loaderHas: { _ in false }).get() == (.file("/ld/libnvrtc.so.12")))
        #expect(try Self.search([:], files: []).locate(.driver, loaderHas: { $0 == "libcuda.so.1" }).get() == (.loaderCache("libcuda.so.1")))
        // The python3 on PATH names its environment: CUDA 12 wheels put each library in its own folder.
        let cu12 = Self.search(["PATH": "/env/bin"], files: ["/env/bin/python3", "/env/lib/python3.10/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"])
        #expect(try cu12.locate(.nvrtc, loaderHas: { _ in false }).get() == (.file("/env/lib/python3.10/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12")))
    }

    @Test("installed from the wheel, mgpr finds the NVIDIA wheels of its own site-packages without an active venv")
    func ownEnvironment() throws {
        let site = "/home/u/env/lib/python3.9/site-packages"
        let s = Self.search(
            ["PATH": "/usr/bin"], files: ["\(site)/nvidia/cudnn/lib/libcudnn.so.9", "\(site)/mgpr/bin/mgpr"],
            executable: "\(site)/mgpr/bin/mgpr")
        #expect(try s.locate(.cudnn, loaderHas: { _ in false }).get() == (.file("\(site)/nvidia/cudnn/lib/libcudnn.so.9")))
        let elsewhere = Self.search(
            ["PATH": "/usr/bin"], files: ["\(site)/nvidia/cudnn/lib/libcudnn.so.9"], executable: "/opt/mgpr/bin/mgpr")
        guard case .failure = elsewhere.locate(.cudnn, loaderHas: { _ in false }) else {
            Issue.record("found a wheel outside any environment mgpr knows"); return
        }
    }

    @Test("a missing library is one line naming it, every place tried, and what to install")
    func missing() throws {
        let s = Self.search(["CUDA_HOME": "/cuda", "VIRTUAL_ENV": "/venv"], files: ["/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13"])
        guard case .failure(let error) = s.locate(.cudnn, loaderHas: { _ in false }) else { Issue.record("found"); return }
        let line = error.description
        #expect(!line.contains("\n"))
        #expect(line.contains("libcudnn.so.9"))
        #expect(line.contains("/cuda/lib64") && line.contains("/venv/lib/python3.12/site-packages/nvidia/cudnn/lib"))
        #expect(line.contains(LibrarySearch.loaderCache))
        #expect(line.contains("pip install nvidia-cudnn-cu13"))
        guard case .failure(let driver) = s.locate(.driver, loaderHas: { _ in false }) else { Issue.record("found"); return }
        #expect(driver.description.contains("libcuda.so.1") && driver.description.contains("NVIDIA driver"))
    }

    @Test("on this machine: no GPU means the driver is missing or reports no device, said in one line")
    func thisMachine() {
        switch CUDA.shared {
        case .success(let cuda):
            // A machine with a driver: the device count is the driver's own.
            #expect(cuda.deviceCount >= 0)
        case .failure(let error):
            #expect(!error.description.contains("\n"))
            #expect(error.description.contains("libcuda.so.1") || error.description.contains("cuInit"))
        }
    }
}
