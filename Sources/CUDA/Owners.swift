/// The GPU resources mgpr creates, each owned by one object that destroys it when the
/// last holder lets go. Whatever queues work on a stream holds the stream, so a stream
/// outlives every plan and pass that uses it by construction, whatever order their
/// owners are released in.

/// A stream on one GPU (non-blocking: it never waits on the legacy default stream).
package final class CUDAStream: @unchecked Sendable {
    package let device: CUDADevice
    package let handle: OpaquePointer

    package init(device: CUDADevice) throws(CUDAError) {
        self.device = device
        try device.makeCurrent()
        var handle: OpaquePointer?
        try device.driver.check(device.driver.cuStreamCreate(&handle, Driver.streamNonBlocking), "cuStreamCreate")
        self.handle = handle!
    }

    /// Waits for the work queued so far; `what` names it in an error.
    package func synchronize(_ what: @autoclosure () -> String = "") throws(CUDAError) {
        let suffix = what()
        try device.driver.check(device.driver.cuStreamSynchronize(handle), "cuStreamSynchronize\(suffix.isEmpty ? "" : " (\(suffix))")")
    }

    deinit {
        try? device.makeCurrent()
        _ = device.driver.cuStreamSynchronize(handle)
        _ = device.driver.cuStreamDestroy(handle)
    }
}

/// An event: a point in a stream's work, and the time it was reached.
package final class CUDAEvent: @unchecked Sendable {
    package let device: CUDADevice
    package let handle: OpaquePointer

    package init(device: CUDADevice) throws(CUDAError) {
        self.device = device
        try device.makeCurrent()
        var handle: OpaquePointer?
        try device.driver.check(device.driver.cuEventCreate(&handle, 0), "cuEventCreate")
        self.handle = handle!
    }

    package func record(on stream: CUDAStream) throws(CUDAError) {
        try device.driver.check(device.driver.cuEventRecord(handle, stream.handle), "cuEventRecord")
    }

    /// Seconds from `start` to this event, once both are reached.
    package func seconds(since start: CUDAEvent) throws(CUDAError) -> Double {
        var milliseconds: Float = 0
        try device.driver.check(device.driver.cuEventElapsedTime(&milliseconds, start.handle, handle), "cuEventElapsedTime")
        return Double(milliseconds) / 1000
    }

    deinit {
        try? device.makeCurrent()
        _ = device.driver.cuEventDestroy(handle)
    }
}

/// Page-locked host memory of one GPU's context (portable: any GPU of the process copies
/// from it at full speed and asynchronously).
package final class PinnedBuffer: @unchecked Sendable {
    package let device: CUDADevice
    package let pointer: UnsafeMutableRawPointer
    package let bytes: Int

    package init(device: CUDADevice, bytes: Int) throws(CUDAError) {
        self.device = device
        pointer = try device.allocatePinned(bytes)
        self.bytes = bytes
    }

    deinit { device.freePinned(pointer) }
}
