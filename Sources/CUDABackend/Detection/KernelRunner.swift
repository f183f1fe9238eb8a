import CUDA
import Engine

/// What the checks need to run kernels one at a time: memory for inputs and outputs
/// (addressed as the kernels see it), copies, and launches.
package protocol KernelRunner: AnyObject {
    func upload<T>(_ values: [T]) throws -> UInt64
    func download<T>(_ address: UInt64, count: Int) throws -> [T]
    /// Runs kernel `name` to completion: `count` elements for a grid-stride kernel, or
    /// `blocks` of `threads` for a kernel with one block per item.
    func run(kernel name: String, count: Int?, blocks: Int?, threads: Int, arguments: [KernelLaunch.Argument]) throws
}

extension KernelRunner {
    package func zeros(_ bytes: Int) throws -> UInt64 { try upload([UInt8](repeating: 0, count: bytes)) }

    package func launch(_ name: String, count: Int? = nil, blocks: Int? = nil, threads: Int = 256, _ arguments: [KernelLaunch.Argument]) throws {
        try run(kernel: name, count: count, blocks: blocks, threads: threads, arguments: arguments)
    }
}

/// Kernels on a GPU: small device buffers, launches and copies on one stream, waiting
/// after each.
package final class Launcher: KernelRunner {
    private let device: CUDADevice
    private let module: KernelModule
    private let stream: CUDAStream
    private var buffers: [DeviceBuffer] = []

    package init(backend: CUDABackend) throws {
        device = backend.device
        module = try backend.detectionModule()
        stream = try CUDAStream(device: device)
    }

    package func upload<T>(_ values: [T]) throws -> UInt64 {
        let buffer = try device.allocate(values.count * MemoryLayout<T>.stride)
        buffers.append(buffer)
        let d = device.driver
        try values.withUnsafeBytes { try d.check(d.cuMemcpyHtoDAsync(buffer.address, $0.baseAddress, $0.count, stream.handle), "cuMemcpyHtoDAsync") }
        try stream.synchronize()
        return buffer.address
    }

    package func download<T>(_ address: UInt64, count: Int) throws -> [T] {
        let d = device.driver
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            try d.check(d.cuMemcpyDtoHAsync(buffer.baseAddress, address, count * MemoryLayout<T>.stride, stream.handle), "cuMemcpyDtoHAsync")
            try stream.synchronize()
            initialized = count
        }
    }

    package func run(kernel name: String, count: Int?, blocks: Int?, threads: Int, arguments: [KernelLaunch.Argument]) throws {
        try device.makeCurrent()
        try KernelLaunch(module, name, device: device, count: count, blocks: blocks, threads: threads, arguments).launch(device.driver, stream: stream)
        try stream.synchronize(name)
    }
}
