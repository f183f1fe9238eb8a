@testable import CUDA
import Testing

/// NVML's readings reduced to the run's figures; sampling itself needs a GPU.
@Suite("GPU utilisation over the steady window")
struct UtilizationWindowTests {
    @Test("the steady mean counts only samples inside the window; the run's mean and maximum count every answer")
    func steadyMean() {
        // A start-up of idle samples (plans, search), a busy middle, an idle tail; device 1 missed one answer.
        let samples = (0..<20).map { i in
            UtilizationMonitor.Sample(time: 100 + Double(i) * 0.2, utilization: [i < 5 || i >= 15 ? 0 : 90 + i % 2, i == 10 ? nil : 50])
        }
        let gpu0 = UtilizationMonitor.reading(samples, device: 0, peakMemory: 7, steady: 101.0...102.8)
        #expect(gpu0.samples == 20 && gpu0.maxUtilization == 91 && gpu0.peakMemoryUsed == 7)
        #expect(abs(gpu0.meanUtilization - Double((5..<15).map { 90 + $0 % 2 }.reduce(0, +)) / 20) < 1e-12)
        #expect(gpu0.steadyUtilization == 90.5)
        let gpu1 = UtilizationMonitor.reading(samples, device: 1, peakMemory: 0, steady: 101.0...102.8)
        #expect(gpu1.samples == 19 && gpu1.steadyUtilization == 50)
        // No window, or one with no samples: no steady figure.
        #expect(UtilizationMonitor.reading(samples, device: 0, peakMemory: 0, steady: nil).steadyUtilization == nil)
        #expect(UtilizationMonitor.reading(samples, device: 0, peakMemory: 0, steady: 200...300).steadyUtilization == nil)
    }
}
