import Foundation
import Synchronization

/// Samples each GPU's real utilisation and memory in use through NVML while a run goes,
/// every `interval` seconds on its own thread, for the usage summary.
public final class UtilizationMonitor: @unchecked Sendable {
    public struct Reading: Sendable {
        /// Mean and highest percentage of time a kernel ran on the GPU.
        public var meanUtilization: Double
        public var maxUtilization: Int
        /// Most memory in use on the GPU (all processes), in bytes.
        public var peakMemoryUsed: Int
        public var samples: Int
    }

    private let nvml: NVML
    private let handles: [NVML.Device]
    private let interval: Double
    private let state = Mutex<(running: Bool, sums: [Int], maxima: [Int], memory: [Int], samples: Int)>((false, [], [], [], 0))
    private var thread: Thread?

    /// Nil where NVML is missing or does not know a device.
    public init?(devices: [CUDADevice], interval: Double = 0.2) {
        guard let nvml = devices.first?.cuda.nvml() else { return nil }
        guard let handles = try? devices.map({ (d) throws(CUDAError) in try nvml.device(pciBusId: d.pciBusId) }) else { return nil }
        self.nvml = nvml
        self.handles = handles
        self.interval = interval
        state.withLock { $0 = (true, Array(repeating: 0, count: handles.count), Array(repeating: 0, count: handles.count),
                               Array(repeating: 0, count: handles.count), 0) }
        let thread = Thread { [self] in
            while state.withLock({ $0.running }) {
                let readings = self.handles.map { self.nvml.sample($0) }
                state.withLock { s in
                    for (i, r) in readings.enumerated() {
                        guard let r else { continue }
                        s.sums[i] += r.utilization
                        s.maxima[i] = max(s.maxima[i], r.utilization)
                        s.memory[i] = max(s.memory[i], r.memoryUsed)
                    }
                    s.samples += 1
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "mgpr-nvml"
        thread.start()
        self.thread = thread
    }

    /// Stops sampling and returns each device's reading.
    public func stop() -> [Reading] {
        let s = state.withLock { s in
            s.running = false
            return s
        }
        return handles.indices.map { i in
            Reading(meanUtilization: s.samples > 0 ? Double(s.sums[i]) / Double(s.samples) : 0, maxUtilization: s.maxima[i],
                    peakMemoryUsed: s.memory[i], samples: s.samples)
        }
    }
}
