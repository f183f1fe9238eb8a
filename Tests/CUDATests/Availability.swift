import CPUBackend
@testable import CUDA
@testable import CUDABackend
import Engine
import Foundation
import Testing

/// What this machine offers the CUDA tests, and why a test cannot run without it: a
/// test that cannot run here shows as skipped with the reason, never as passed. Only
/// absence skips; a library or compiler that is present but fails is a failure.
enum Availability {
    /// The GPUs the NVIDIA driver reports, or why there are none.
    static let gpus: (count: Int, reason: String) = {
        switch CUDA.shared {
        case .success(let cuda) where cuda.deviceCount > 0: (cuda.deviceCount, "")
        case .success: (0, "no GPU: the NVIDIA driver reports none")
        case .failure(let error): (0, "no GPU: \(error)")
        }
    }()

    /// A C++20 compiler for the emulated kernels (clang++ ships with Swift).
    static let cxxCompiler: String? = ["clang++", "g++", "c++"].first { name in
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }

    static let nativeBF16 = CPUBackend(threads: 2).resolve(.bf16).0 == .bf16
}

extension Trait where Self == ConditionTrait {
    static var needsGPU: Self {
        .enabled(if: Availability.gpus.count > 0, Comment(rawValue: Availability.gpus.reason))
    }

    static var needsTwoGPUs: Self {
        .enabled(if: Availability.gpus.count >= 2, "ranks on different GPUs need two GPUs")
    }

    static var needsNVRTC: Self {
        .enabled(if: nvrtcLocation() != nil, Comment(rawValue: nvrtcMissing))
    }

    static var needsCXXCompiler: Self {
        .enabled(if: Availability.cxxCompiler != nil, "the emulated kernels need a C++ compiler (clang++, g++ or c++) on PATH")
    }

    static var needsNativeBF16: Self {
        .enabled(if: Availability.nativeBF16, "this CPU has no native bf16 (AVX512-BF16 or AMX), so its bf16 plan is float32")
    }
}
