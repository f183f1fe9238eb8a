import CUDA
import Engine

/// Page-locked host memory (portable: any GPU of the process copies from it at full
/// speed and asynchronously) for the batches the loader fills.
public struct PinnedMemory: HostMemory {
    let device: CUDADevice

    public func allocate(byteCount: Int) throws -> UnsafeMutableRawPointer { try device.allocatePinned(byteCount) }

    public func deallocate(_ pointer: UnsafeMutableRawPointer) { device.freePinned(pointer) }
}
