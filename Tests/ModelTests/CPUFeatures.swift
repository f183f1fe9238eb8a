import CPUBackend
import Engine
import Testing

/// What the CPU running the tests can do, as the backend sees it (oneDNN's ISA, capped
/// by DNNL_MAX_CPU_ISA), so tests that need more than AVX2 skip with the reason.
enum CPUFeatures {
    static let backend = CPUBackend(threads: 2)

    /// bf16-mixed computes in bfloat16 only with native bf16 (AVX512-BF16 or AMX).
    static var nativeBF16: Bool { backend.resolve(.bf16).0 == .bf16 }
}

extension Trait where Self == ConditionTrait {
    /// Skips a test where the CPU (or DNNL_MAX_CPU_ISA) gives no native bf16.
    static var needsNativeBF16: Self {
        .enabled(if: CPUFeatures.nativeBF16, "needs native bf16 (AVX512-BF16 or AMX): bf16-mixed runs in float32 here")
    }

    /// Runs a test only where bf16-mixed falls back to float32.
    static var lacksNativeBF16: Self {
        .enabled(if: !CPUFeatures.nativeBF16, "checks the float32 fallback, which this CPU does not take")
    }
}

@Suite("Precision on a CPU without native bf16")
struct PrecisionFallbackTests {
    @Test("bf16-mixed and 16-mixed fall back to float32 and say why", .lacksNativeBF16)
    func fallsBackToFloat32() {
        for requested in [Precision.bf16, .f16] {
            let (resolved, notice) = CPUFeatures.backend.resolve(requested)
            #expect(resolved == .f32)
            #expect(notice?.contains("this CPU has no native bf16 (") == true, "\(notice ?? "no notice")")
            #expect(notice?.hasSuffix("): running in float32") == true, "\(notice ?? "no notice")")
        }
    }

    @Test("with native bf16, bf16-mixed computes in bfloat16", .needsNativeBF16)
    func computesInBFloat16() {
        #expect(CPUFeatures.backend.resolve(.bf16) == (.bf16, nil))
        #expect(CPUFeatures.backend.resolve(.f16).0 == .bf16)
    }
}
