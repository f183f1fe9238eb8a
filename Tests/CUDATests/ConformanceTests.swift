import Conformance
import CPUBackend
@testable import CUDA
@testable import CUDABackend
import Engine
import Foundation
import Testing

@Suite("Backend conformance")
struct ConformanceTests {
    @Test("every case gives the CPU reference something to compare: finite, varied outputs")
    func referenceIsNonDegenerate() throws {
        let cpu = CPUBackend(threads: 2)
        for c in ConformanceSuite.cases {
            let out = try ConformanceSuite.run(c.graph, on: cpu, precision: .f32, weights: ConformanceSuite.weights(for: c.graph))
            #expect(out.allSatisfy { $0.isFinite }, "\(c.name)")
            let mean = out.reduce(0, +) / Float(out.count)
            let spread = out.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(out.count)
            #expect(spread > 1e-6, "\(c.name): outputs nearly constant")
            #expect(Set(out.prefix(256)).count > 16, "\(c.name): too few distinct values")
        }
    }

    @Test("the comparison catches a wrong backend: a CPU plan in bf16 is held to the bf16 bar, not the float32 one", .needsNativeBF16)
    func comparisonHasTeeth() throws {
        let cpu = CPUBackend(threads: 2)
        let outcomes = try ConformanceSuite.check(
            cpu, modes: [.init(precision: .bf16, label: "bf16 at f32's bar", tolerance: 1e-4)], reference: cpu)
        // Convolutions rounded to bfloat16 must miss float32's tolerance.
        #expect(outcomes.contains { !$0.passed && $0.caseName.hasPrefix("conv") })
        #expect(outcomes.contains { $0.error > 1e-3 })
    }

    @Test("every op on each GPU present against the CPU backend", .needsGPU)
    func gpus() throws {
        let cuda = try CUDA.shared.get()
        let cpu = CPUBackend(threads: ProcessInfo.processInfo.activeProcessorCount)
        for ordinal in 0..<cuda.deviceCount {
            let outcomes = try ConformanceSuite.check(
                try CUDABackend(ordinal: ordinal, tf32: false),
                modes: [.init(precision: .f32, label: "f32", tolerance: 1e-4), .init(precision: .f16, label: "f16", tolerance: 1e-2),
                        .init(precision: .bf16, label: "bf16", tolerance: 6e-2)], reference: cpu)
            for o in outcomes { #expect(o.passed, "GPU \(ordinal) \(o.caseName) \(o.mode): \(o.error)") }
        }
    }

    @Test("the detector's kernels on each GPU present against the CPU implementation", .needsGPU)
    func detectionKernels() throws {
        let cuda = try CUDA.shared.get()
        for ordinal in 0..<cuda.deviceCount {
            let outcomes = try DetectionKernelChecks.run(on: try CUDABackend(ordinal: ordinal, tf32: false))
            #expect(outcomes.count == 14)
            for o in outcomes { #expect(o.passed, "GPU \(ordinal) \(o.name): \(o.error) (\(o.detail))") }
        }
    }

    @Test("the detector's kernels, compiled as C++ and run with one CPU thread per CUDA thread, against the CPU implementation",
          .needsCXXCompiler)
    func emulatedDetectionKernels() throws {
        let runner = try EmulatedKernels()
        let outcomes = try DetectionKernelChecks.run(with: runner)
        #expect(outcomes.count == 14)
        for o in outcomes { #expect(o.passed, "\(o.name): \(o.error) (\(o.detail))") }
        print(DetectionKernelChecks.table(outcomes, backend: "this CPU (emulated)"))
    }
}
