@testable import CUDA
@testable import CUDABackend
import Engine
import Foundation
import Testing

/// NVRTC as scripts/fixtures.sh installs it from PyPI (or MGPR_CUDA_LIBRARY_PATH's).
let nvrtcFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent(".fixtures/nvrtc/nvidia/cu13/lib").path

/// Where NVRTC is, or nil where it is not installed.
func nvrtcLocation() -> String? {
    var environment = ProcessInfo.processInfo.environment
    environment["MGPR_CUDA_LIBRARY_PATH"] = [nvrtcFolder, environment["MGPR_CUDA_LIBRARY_PATH"]].compactMap { $0 }.joined(separator: ":")
    guard case .success(let location) = LibrarySearch(environment: environment).locate(.nvrtc) else { return nil }
    switch location {
    case .file(let path), .loaderCache(let path): return path
    }
}

/// NVRTC loaded from where it was found (tests that call this are `.needsNVRTC`).
func privateNVRTC() throws -> NVRTC {
    try NVRTC(DynamicLibrary(path: try #require(nvrtcLocation())))
}

let nvrtcMissing = "NVRTC is not installed (scripts/fixtures.sh puts PyPI's nvidia-cuda-nvrtc in .fixtures/nvrtc)"

@Suite("CUDA kernels compile with NVRTC")
struct KernelCompileTests {
    @Test("every kernel compiles for sm_80 and sm_90 in float32, float16 and bfloat16", .needsNVRTC, arguments: [80, 90])
    func compiles(architecture: Int) throws {
        let nvrtc = try privateNVRTC()
        for type in [ElementType.f32, .f16, .bf16] {
            let cubin = try nvrtc.compile(
                Kernels.source, name: "kernels_\(type.rawValue).cu", architecture: architecture, options: Kernels.options(for: type))
            // An ELF object for the device, naming every kernel the plans launch.
            #expect(cubin.starts(with: [0x7f, 0x45, 0x4c, 0x46]))
            let text = String(decoding: cubin.map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
            for name in Kernels.names { #expect(text.contains(name), "\(name) in the sm_\(architecture) \(type.rawValue) cubin") }
        }
    }

    @Test("the detector's kernels compile for sm_80 and sm_90", .needsNVRTC, arguments: [80, 90])
    func detectionCompiles(architecture: Int) throws {
        let nvrtc = try privateNVRTC()
        let cubin = try nvrtc.compile(
            DetectionKernels.source, name: "detection.cu", architecture: architecture, options: DetectionKernels.options)
        #expect(cubin.starts(with: [0x7f, 0x45, 0x4c, 0x46]))
        let text = String(decoding: cubin.map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
        for name in DetectionKernels.names { #expect(text.contains(name), "\(name) in the sm_\(architecture) cubin") }
    }

    @Test("a kernel that does not compile is an error naming it, the architecture and the compiler's message", .needsNVRTC)
    func compileError() throws {
        let nvrtc = try privateNVRTC()
        let broken = #"extern "C" __global__ void k(float* x) { x[0] = undefined_name; }"#
        #expect {
            try nvrtc.compile(broken, name: "broken.cu", architecture: 90)
        } throws: { error in
            let text = "\(error)"
            return text.contains("broken.cu") && text.contains("sm_90") && text.contains("undefined_name")
        }
    }

    @Test("compiled kernels are cached on disk by source, options, architecture and compiler version", .needsNVRTC)
    func cache() throws {
        let nvrtc = try privateNVRTC()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-kernel-cache-\(UUID().uuidString.prefix(8))").path
        let cache = KernelCache(environment: ["MGPR_KERNEL_CACHE": folder])
        let first = try cache.cubin(source: Kernels.source, name: "k.cu", options: ["-DMGPR_F16"], architecture: 80, compiler: nvrtc)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(files.count == 1 && files[0].contains("sm_80") && files[0].contains("nvrtc\(nvrtc.version)"))
        // A second compile reads the file: make it recognisable, and see it come back.
        let path = "\(folder)/\(files[0])"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(try cache.cubin(source: Kernels.source, name: "k.cu", options: ["-DMGPR_F16"], architecture: 80, compiler: nvrtc) == [1, 2, 3])
        #expect(!first.isEmpty)
        let keys = Set([
            KernelCache.key(source: "a", options: [], architecture: 80, compiler: "13.5"),
            KernelCache.key(source: "b", options: [], architecture: 80, compiler: "13.5"),
            KernelCache.key(source: "a", options: ["-DX"], architecture: 80, compiler: "13.5"),
            KernelCache.key(source: "a", options: [], architecture: 90, compiler: "13.5"),
            KernelCache.key(source: "a", options: [], architecture: 80, compiler: "12.9"),
        ])
        #expect(keys.count == 5)
    }

    @Test("weights become bfloat16 by round-to-nearest-even, as PyTorch converts them")
    func bfloat16() {
        #expect(HalfPrecision.bfloat16(1.0) == 0x3f80)
        #expect(HalfPrecision.bfloat16(Float(bitPattern: 0x3f80_8000)) == 0x3f80)  // tie: to even
        #expect(HalfPrecision.bfloat16(Float(bitPattern: 0x3f81_8000)) == 0x3f82)  // tie: to even
        #expect(HalfPrecision.bfloat16(Float(bitPattern: 0x3f80_8001)) == 0x3f81)
        #expect(HalfPrecision.bfloat16(-2.5) == 0xc020)
        #expect(HalfPrecision.bfloat16(.nan) == 0x7fc0)
        #expect(HalfPrecision.float(bfloat16: 0x4049) == 3.140625)
        let halves = HalfPrecision.bytes([1, -2, 65504], as: .f16)
        #expect(halves == [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b])
    }
}
