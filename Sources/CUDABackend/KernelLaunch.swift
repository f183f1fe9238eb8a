import CUDA
import Engine

/// CUDA C kernels compiled by NVRTC (or read from the cache) and loaded on one GPU.
final class KernelModule: @unchecked Sendable {
    private let functions: [String: OpaquePointer]

    /// The kernels of ``Kernels/source`` for one element type.
    convenience init(device: CUDADevice, type: ElementType, cache: KernelCache) throws {
        try self.init(
            device: device, source: Kernels.source, name: "mgpr_kernels_\(type.rawValue).cu", options: Kernels.options(for: type),
            functions: Kernels.names, cache: cache)
    }

    init(device: CUDADevice, source: String, name: String, options: [String], functions names: [String], cache: KernelCache) throws {
        let compiler = try device.cuda.nvrtc()
        let cubin = try cache.cubin(
            source: source, name: name, options: options, architecture: device.architecture, compiler: compiler)
        try device.makeCurrent()
        let d = device.driver
        var module: OpaquePointer?
        try cubin.withUnsafeBytes { raw in
            try d.check(d.cuModuleLoadData(&module, raw.baseAddress!), "cuModuleLoadData (\(name))")
        }
        var functions: [String: OpaquePointer] = [:]
        for name in names {
            var function: OpaquePointer?
            try d.check(d.cuModuleGetFunction(&function, module, name), "cuModuleGetFunction(\(name))")
            functions[name] = function!
        }
        self.functions = functions
    }

    func function(_ name: String) -> OpaquePointer { functions[name]! }
}

/// One kernel launch, its arguments marshalled once when the plan is built, so running
/// it allocates nothing.
package final class KernelLaunch {
    package enum Argument {
        case address(UInt64)
        case int(Int32)
        case long(Int64)
        case float(Float)
    }

    let name: String
    private let function: OpaquePointer
    private let grid: UInt32
    private let block: UInt32
    private let arguments: KernelArguments

    /// - Parameters: `count` elements for a grid-stride kernel (a grid that fills the GPU),
    ///   or `blocks` explicitly for a kernel with one block per item.
    init(_ module: KernelModule, _ name: String, device: CUDADevice, count: Int? = nil, blocks: Int? = nil,
         threads: Int = 256, _ arguments: [Argument]) {
        self.name = name
        function = module.function(name)
        block = UInt32(threads)
        let wanted = blocks ?? ((count ?? 1) + threads - 1) / threads
        grid = UInt32(max(1, blocks ?? min(wanted, device.multiprocessors * 32)))
        self.arguments = KernelArguments(arguments)
    }

    func launch(_ driver: Driver, stream: CUDAStream) throws(CUDAError) {
        try driver.check(
            driver.cuLaunchKernel(function, grid, 1, 1, block, 1, 1, 0, stream.handle, arguments.parameters, nil), "cuLaunchKernel(\(name))")
    }
}

/// A kernel's arguments as cuLaunchKernel takes them: an array of pointers, each to one
/// argument in its own 8-byte slot (the kernel reads each one's own size).
final class KernelArguments {
    let parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let slots: UnsafeMutableRawPointer

    init(_ arguments: [KernelLaunch.Argument]) {
        slots = .allocate(byteCount: max(1, arguments.count) * 8, alignment: 8)
        parameters = .allocate(capacity: max(1, arguments.count))
        for (i, argument) in arguments.enumerated() {
            let slot = slots + i * 8
            switch argument {
            case .address(let a): slot.storeBytes(of: a, as: UInt64.self)
            case .int(let v): slot.storeBytes(of: v, as: Int32.self)
            case .long(let v): slot.storeBytes(of: v, as: Int64.self)
            case .float(let v): slot.storeBytes(of: v, as: Float.self)
            }
            parameters[i] = slot
        }
    }

    deinit {
        slots.deallocate()
        parameters.deallocate()
    }
}
