/// NVML (libnvidia-ml.so.1), the driver's management library, opened at run time: the
/// GPUs' real utilisation and memory as nvidia-smi reports them.
package struct NVML: Sendable {
    package typealias Device = OpaquePointer?
    package struct Utilization { var gpu: UInt32 = 0; var memory: UInt32 = 0 }
    package struct Memory { var total: UInt64 = 0; var free: UInt64 = 0; var used: UInt64 = 0 }

    package let library: String
    package let nvmlInit: @convention(c) () -> Int32
    package let nvmlSystemGetDriverVersion: @convention(c) (UnsafeMutablePointer<CChar>, UInt32) -> Int32
    package let nvmlDeviceGetHandleByPciBusId: @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<Device>) -> Int32
    package let nvmlDeviceGetUtilizationRates: @convention(c) (Device, UnsafeMutableRawPointer) -> Int32
    package let nvmlDeviceGetMemoryInfo: @convention(c) (Device, UnsafeMutableRawPointer) -> Int32
    package let nvmlErrorString: @convention(c) (Int32) -> UnsafePointer<CChar>?

    package init(_ lib: DynamicLibrary) throws(CUDAError) {
        library = lib.path
        nvmlInit = try lib.function("nvmlInit_v2")
        nvmlSystemGetDriverVersion = try lib.function("nvmlSystemGetDriverVersion")
        nvmlDeviceGetHandleByPciBusId = try lib.function("nvmlDeviceGetHandleByPciBusId_v2")
        nvmlDeviceGetUtilizationRates = try lib.function("nvmlDeviceGetUtilizationRates")
        nvmlDeviceGetMemoryInfo = try lib.function("nvmlDeviceGetMemoryInfo")
        nvmlErrorString = try lib.function("nvmlErrorString")
        try check(nvmlInit(), "nvmlInit_v2")
    }

    package func check(_ status: Int32, _ call: String) throws(CUDAError) {
        guard status != 0 else { return }
        throw .nvml(call: call, message: nvmlErrorString(status).map { String(cString: $0) } ?? "NVML error \(status)")
    }

    package var driverVersion: String? {
        var buffer = [CChar](repeating: 0, count: 96)
        guard nvmlSystemGetDriverVersion(&buffer, 96) == 0 else { return nil }
        return CString.string(buffer)
    }

    /// NVML's handle for a CUDA device, matched by PCI bus id (NVML does not follow
    /// CUDA_VISIBLE_DEVICES, so indices differ).
    package func device(pciBusId: String) throws(CUDAError) -> Device {
        var device: Device = nil
        try check(nvmlDeviceGetHandleByPciBusId(pciBusId, &device), "nvmlDeviceGetHandleByPciBusId_v2(\(pciBusId))")
        return device
    }
}

extension NVML {
    /// The GPU's utilisation (percent of time a kernel ran) and memory in use (bytes, all processes).
    package func sample(_ device: Device) -> (utilization: Int, memoryUsed: Int)? {
        var utilization = Utilization(), memory = Memory()
        guard nvmlDeviceGetUtilizationRates(device, &utilization) == 0, nvmlDeviceGetMemoryInfo(device, &memory) == 0 else { return nil }
        return (Int(utilization.gpu), Int(memory.used))
    }
}
