import Foundation
import Synchronization

/// Samples each GPU's real utilisation and memory in use through NVML while a run goes,
/// every `interval` seconds on its own thread, for the usage summary.
public final class UtilizationMonitor: @unchecked Sendable {
    public struct Reading: Sendable {
        /// Mean and highest percentage of time a kernel ran on the GPU, over the run.
        public var meanUtilization: Double
        public var maxUtilization: Int
        /// The mean over the samples inside the steady window given to ``stop(steady:)``;
        /// nil without a window or samples in it.
        public var steadyUtilization: Double?
        /// Most memory in use on the GPU (all processes), in bytes.
        public var peakMemoryUsed: Int
        public var samples: Int
    }

    /// One sampling of every device: when (seconds since 1970), and each one's
    /// utilisation (nil where NVML did not answer).
    struct Sample {
        var time: Double
        var utilization: [Int?]
    }

    private let nvml: NVML
    private let handles: [NVML.Device]
    private let interval: Double
    private let state = Mutex<(running: Bool, samples: [Sample], memory: [Int])>((false, [], []))
    private var thread: Thread?

    /// Nil where NVML is missing or does not know a device.
    public init?(devices: [CUDADevice], interval: Double = 0.2) {
        guard let nvml = devices.first?.cuda.nvml() else { return nil }
        guard let handles = try? devices.map({ (d) throws(CUDAError) in try nvml.device(pciBusId: d.pciBusId) }) else { return nil }
        self.nvml = nvml
        self.handles = handles
        self.interval = interval
        state.withLock { $0 = (true, [], Array(repeating: 0, count: handles.count)) }
        let thread = Thread { [self] in
            while state.withLock({ $0.running }) {
                let readings = self.handles.map { self.nvml.sample($0) }
                let now = Date().timeIntervalSince1970
                state.withLock { s in
                    for (i, r) in readings.enumerated() { if let r { s.memory[i] = max(s.memory[i], r.memoryUsed) } }
                    s.samples.append(Sample(time: now, utilization: readings.map { $0?.utilization }))
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "mgpr-nvml"
        thread.start()
        self.thread = thread
    }

    /// Stops sampling and returns each device's reading; `steady` (seconds since 1970)
    /// is the part of the run to average apart from its start-up (plans built, cuDNN's
    /// search, the first batches) and its tail.
    public func stop(steady: ClosedRange<Double>? = nil) -> [Reading] {
        let s = state.withLock { s in
            s.running = false
            return s
        }
        return handles.indices.map { i in
            Self.reading(s.samples, device: i, peakMemory: s.memory[i], steady: steady)
        }
    }

    /// Device `i`'s reading from `samples`: the run's mean and maximum over the samples
    /// where it answered, and the mean over those inside `steady`.
    static func reading(_ samples: [Sample], device i: Int, peakMemory: Int, steady: ClosedRange<Double>?) -> Reading {
        let all = samples.compactMap { $0.utilization[i] }
        let inside = steady.map { window in samples.filter { window.contains($0.time) }.compactMap { $0.utilization[i] } } ?? []
        func mean(_ values: [Int]) -> Double { Double(values.reduce(0, +)) / Double(max(values.count, 1)) }
        return Reading(meanUtilization: mean(all), maxUtilization: all.max() ?? 0, steadyUtilization: inside.isEmpty ? nil : mean(inside),
                       peakMemoryUsed: peakMemory, samples: all.count)
    }
}
