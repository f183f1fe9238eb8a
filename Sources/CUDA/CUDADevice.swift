import Synchronization

/// One GPU: its primary context, what it is, and the memory mgpr holds on it (every
/// allocation goes through here, so the summary's figures are the allocator's own).
public final class CUDADevice: @unchecked Sendable {
    public let ordinal: Int
    public let name: String
    public let totalMemory: Int
    public let computeCapability: (major: Int, minor: Int)
    public let multiprocessors: Int
    public let pciBusId: String
    package let cuda: CUDA
    package let handle: Int32
    package let context: OpaquePointer
    private let held = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    package var driver: Driver { cuda.driver }
    /// The architecture kernels are compiled for: 90 for sm_90.
    public var architecture: Int { computeCapability.major * 10 + computeCapability.minor }

    package init(cuda: CUDA, ordinal: Int) throws(CUDAError) {
        self.cuda = cuda
        self.ordinal = ordinal
        let d = cuda.driver
        var handle: Int32 = 0
        try d.check(d.cuDeviceGet(&handle, Int32(ordinal)), "cuDeviceGet(\(ordinal))")
        self.handle = handle
        var buffer = [CChar](repeating: 0, count: 256)
        try d.check(d.cuDeviceGetName(&buffer, 256, handle), "cuDeviceGetName")
        name = CString.string(buffer)
        try d.check(d.cuDeviceGetPCIBusId(&buffer, 256, handle), "cuDeviceGetPCIBusId")
        pciBusId = CString.string(buffer)
        var bytes = 0
        try d.check(d.cuDeviceTotalMem(&bytes, handle), "cuDeviceTotalMem")
        totalMemory = bytes
        func attribute(_ a: Int32) throws(CUDAError) -> Int {
            var value: Int32 = 0
            try d.check(d.cuDeviceGetAttribute(&value, a, handle), "cuDeviceGetAttribute(\(a))")
            return Int(value)
        }
        computeCapability = (try attribute(Driver.attributeComputeCapabilityMajor), try attribute(Driver.attributeComputeCapabilityMinor))
        multiprocessors = try attribute(Driver.attributeMultiprocessorCount)
        var context: OpaquePointer?
        try d.check(d.cuDevicePrimaryCtxRetain(&context, handle), "cuDevicePrimaryCtxRetain(\(ordinal))")
        self.context = context!
    }

    /// Makes this GPU's context current on the calling thread (each device thread,
    /// and any thread that allocates pinned memory for it).
    public func makeCurrent() throws(CUDAError) {
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent(GPU \(ordinal))")
    }

    /// Bytes mgpr holds on this GPU now, and at most so far.
    public var heldBytes: Int { held.load(ordering: .relaxed) }
    public var peakBytes: Int { peak.load(ordering: .relaxed) }

    /// `bytes` of device memory, freed with the returned buffer.
    package func allocate(_ bytes: Int) throws(CUDAError) -> DeviceBuffer {
        try makeCurrent()
        var address: UInt64 = 0
        let size = max(bytes, 256)
        try driver.check(
            driver.cuMemAlloc(&address, size),
            "cuMemAlloc(\(size) bytes on GPU \(ordinal), \(heldBytes) held by mgpr of \(totalMemory))")
        let now = held.wrappingAdd(size, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
        return DeviceBuffer(device: self, address: address, bytes: size)
    }

    fileprivate func release(_ buffer: DeviceBuffer) {
        try? makeCurrent()
        _ = driver.cuMemFree(buffer.address)
        held.wrappingSubtract(buffer.bytes, ordering: .relaxed)
    }

    /// `bytes` (at least 64) of page-locked host memory, portable across the process's
    /// GPUs; freed by ``freePinned(_:)``.
    package func allocatePinned(_ bytes: Int) throws(CUDAError) -> UnsafeMutableRawPointer {
        try makeCurrent()
        var pointer: UnsafeMutableRawPointer?
        try driver.check(driver.cuMemHostAlloc(&pointer, max(bytes, 64), Driver.hostAllocPortable), "cuMemHostAlloc(\(bytes) bytes)")
        return pointer!
    }

    package func freePinned(_ pointer: UnsafeMutableRawPointer) {
        try? makeCurrent()
        _ = driver.cuMemFreeHost(pointer)
    }

    /// Free and total memory on the device as the driver sees it (all processes).
    public func memoryInfo() throws(CUDAError) -> (free: Int, total: Int) {
        try makeCurrent()
        var free = 0, total = 0
        try driver.check(driver.cuMemGetInfo(&free, &total), "cuMemGetInfo")
        return (free, total)
    }
}

/// Device memory, freed when the last reference goes.
package final class DeviceBuffer: @unchecked Sendable {
    package let device: CUDADevice
    package let address: UInt64
    package let bytes: Int

    package init(device: CUDADevice, address: UInt64, bytes: Int) { (self.device, self.address, self.bytes) = (device, address, bytes) }
    deinit { device.release(self) }

    package var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(address))! }
}
