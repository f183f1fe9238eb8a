import CUDA
import Engine
import Pipeline
import Results

extension RunSummary {
    /// NVML's utilisation and memory in use, and the allocator's peak, into each GPU's entry.
    mutating func record(_ readings: [UtilizationMonitor.Reading], devices: Devices) {
        for (i, reading) in readings.enumerated() where i < self.devices.count {
            self.devices[i].nvmlUtilization = reading.meanUtilization / 100
            self.devices[i].nvmlMaxUtilization = Double(reading.maxUtilization) / 100
            self.devices[i].nvmlSteadyUtilization = reading.steadyUtilization.map { $0 / 100 }
            self.devices[i].nvmlPeakMemoryBytes = reading.peakMemoryUsed
            if i < devices.gpus.count { self.devices[i].allocatorPeakBytes = devices.gpus[i].peakBytes }
        }
    }
}
