import Configuration
import Conformance
import CPUBackend
import CUDA
import CUDABackend
import Engine
import Foundation

/// `mgpr conformance`: the conformance suite on every GPU this process sees, in float32
/// (TF32 off and on), float16 and bfloat16, against the CPU backend, then the detector's
/// kernels against the CPU implementation they mirror. Exits 1 when a case
/// fails, 3 when there is no GPU to check (saying why).
enum ConformanceCommand {
    static func run() throws -> Int32 {
        let reference = CPUBackend(threads: CPUCores.current().usable)
        let cuda: CUDA
        switch CUDA.shared {
        case .success(let c) where c.deviceCount > 0: cuda = c
        case .success: Terminal.standardOutput("skipped: no GPU: the NVIDIA driver reports none\(CUDA.visibleDevicesNote)\n"); return 3
        case .failure(let error): Terminal.standardOutput("skipped: no GPU: \(error)\n"); return 3
        }
        var failed = 0
        for ordinal in 0..<cuda.deviceCount {
            let exact = try CUDABackend(ordinal: ordinal, tf32: false), tf32 = try CUDABackend(ordinal: ordinal, tf32: true)
            var outcomes = try ConformanceSuite.check(exact, modes: [.init(precision: .f32, label: "f32", tolerance: 1e-4),
                                                                     .init(precision: .f16, label: "f16", tolerance: 1e-2),
                                                                     .init(precision: .bf16, label: "bf16", tolerance: 6e-2)],
                                                      reference: reference)
            outcomes += try ConformanceSuite.check(tf32, modes: [.init(precision: .f32, label: "tf32", tolerance: 5e-3)], reference: reference)
            Terminal.standardOutput(ConformanceSuite.table(outcomes, backend: exact.deviceName))
            failed += outcomes.filter { !$0.passed }.count
            let detection = try DetectionKernelChecks.run(on: exact)
            Terminal.standardOutput(DetectionKernelChecks.table(detection, backend: exact.deviceName))
            failed += detection.filter { !$0.passed }.count
        }
        return failed == 0 ? 0 : 1
    }
}
