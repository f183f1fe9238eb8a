/// The CUDA driver API (libcuda.so.1), opened at run time. Each field is one C function
/// with its prototype from cuda.h: handles are opaque pointers, CUdevice an int,
/// CUdeviceptr a 64-bit integer, CUresult an int (0: success).
struct Driver: Sendable {
    typealias Handle = OpaquePointer?
    typealias Result = Int32

    let library: String
    let cuInit: @convention(c) (UInt32) -> Result
    let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Result
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Result
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Result
    let cuDeviceGetPCIBusId: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<Handle>, Int32) -> Result
    let cuCtxSetCurrent: @convention(c) (Handle) -> Result
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Result
    let cuMemFree: @convention(c) (UInt64) -> Result
    let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Result
    let cuMemHostAlloc: @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int, UInt32) -> Result
    let cuMemFreeHost: @convention(c) (UnsafeMutableRawPointer?) -> Result
    let cuMemcpyHtoDAsync: @convention(c) (UInt64, UnsafeRawPointer?, Int, Handle) -> Result
    let cuMemcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer?, UInt64, Int, Handle) -> Result
    let cuMemsetD32Async: @convention(c) (UInt64, UInt32, Int, Handle) -> Result
    let cuStreamCreate: @convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Result
    let cuStreamDestroy: @convention(c) (Handle) -> Result
    let cuStreamSynchronize: @convention(c) (Handle) -> Result
    let cuEventCreate: @convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Result
    let cuEventRecord: @convention(c) (Handle, Handle) -> Result
    let cuEventSynchronize: @convention(c) (Handle) -> Result
    let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, Handle, Handle) -> Result
    let cuEventDestroy: @convention(c) (Handle) -> Result
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<Handle>, UnsafeRawPointer) -> Result
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UnsafePointer<CChar>) -> Result
    let cuLaunchKernel: @convention(c) (
        Handle, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, Handle,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> Result
    let cuGetErrorName: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result
    /// CUDA graphs (driver 11.4 and later): nil where the driver lacks them.
    let graphs: Graphs?
    let cuGetErrorString: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result

    /// Stream capture into a graph, and replaying it.
    struct Graphs: Sendable {
        let cuStreamBeginCapture: @convention(c) (Handle, Int32) -> Result
        let cuStreamEndCapture: @convention(c) (Handle, UnsafeMutablePointer<Handle>) -> Result
        let cuGraphInstantiateWithFlags: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UInt64) -> Result
        let cuGraphLaunch: @convention(c) (Handle, Handle) -> Result
        let cuGraphExecDestroy: @convention(c) (Handle) -> Result
        let cuGraphDestroy: @convention(c) (Handle) -> Result

        init?(_ lib: DynamicLibrary) {
            guard lib.hasSymbol("cuStreamBeginCapture_v2"), lib.hasSymbol("cuGraphInstantiateWithFlags"),
                  let begin: @convention(c) (Handle, Int32) -> Result = try? lib.function("cuStreamBeginCapture_v2"),
                  let end: @convention(c) (Handle, UnsafeMutablePointer<Handle>) -> Result = try? lib.function("cuStreamEndCapture"),
                  let instantiate: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UInt64) -> Result =
                      try? lib.function("cuGraphInstantiateWithFlags"),
                  let launch: @convention(c) (Handle, Handle) -> Result = try? lib.function("cuGraphLaunch"),
                  let execDestroy: @convention(c) (Handle) -> Result = try? lib.function("cuGraphExecDestroy"),
                  let destroy: @convention(c) (Handle) -> Result = try? lib.function("cuGraphDestroy")
            else { return nil }
            (cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiateWithFlags) = (begin, end, instantiate)
            (cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy) = (launch, execDestroy, destroy)
        }
    }

    // cuda.h's values for the attributes and flags used here.
    static let attributeMultiprocessorCount: Int32 = 16
    static let attributeComputeCapabilityMajor: Int32 = 75
    static let attributeComputeCapabilityMinor: Int32 = 76
    static let hostAllocPortable: UInt32 = 1
    static let streamNonBlocking: UInt32 = 1
    static let errorNoDevice: Int32 = 100
    /// CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: only this thread's unsafe calls end a capture
    /// (another device thread may allocate meanwhile).
    static let captureThreadLocal: Int32 = 1

    init(_ lib: DynamicLibrary) throws(CUDAError) {
        library = lib.path
        cuInit = try lib.function("cuInit")
        cuDriverGetVersion = try lib.function("cuDriverGetVersion")
        cuDeviceGetCount = try lib.function("cuDeviceGetCount")
        cuDeviceGet = try lib.function("cuDeviceGet")
        cuDeviceGetName = try lib.function("cuDeviceGetName")
        cuDeviceTotalMem = try lib.function("cuDeviceTotalMem_v2")
        cuDeviceGetAttribute = try lib.function("cuDeviceGetAttribute")
        cuDeviceGetPCIBusId = try lib.function("cuDeviceGetPCIBusId")
        cuDevicePrimaryCtxRetain = try lib.function("cuDevicePrimaryCtxRetain")
        cuCtxSetCurrent = try lib.function("cuCtxSetCurrent")
        cuMemAlloc = try lib.function("cuMemAlloc_v2")
        cuMemFree = try lib.function("cuMemFree_v2")
        cuMemGetInfo = try lib.function("cuMemGetInfo_v2")
        cuMemHostAlloc = try lib.function("cuMemHostAlloc")
        cuMemFreeHost = try lib.function("cuMemFreeHost")
        cuMemcpyHtoDAsync = try lib.function("cuMemcpyHtoDAsync_v2")
        cuMemcpyDtoHAsync = try lib.function("cuMemcpyDtoHAsync_v2")
        cuMemsetD32Async = try lib.function("cuMemsetD32Async")
        cuStreamCreate = try lib.function("cuStreamCreate")
        cuStreamDestroy = try lib.function("cuStreamDestroy_v2")
        cuStreamSynchronize = try lib.function("cuStreamSynchronize")
        cuEventCreate = try lib.function("cuEventCreate")
        cuEventRecord = try lib.function("cuEventRecord")
        cuEventSynchronize = try lib.function("cuEventSynchronize")
        cuEventElapsedTime = try lib.function(lib.hasSymbol("cuEventElapsedTime_v2") ? "cuEventElapsedTime_v2" : "cuEventElapsedTime")
        cuEventDestroy = try lib.function("cuEventDestroy_v2")
        cuModuleLoadData = try lib.function("cuModuleLoadData")
        cuModuleGetFunction = try lib.function("cuModuleGetFunction")
        cuLaunchKernel = try lib.function("cuLaunchKernel")
        cuGetErrorName = try lib.function("cuGetErrorName")
        cuGetErrorString = try lib.function("cuGetErrorString")
        graphs = Graphs(lib)
    }

    /// The status-to-error funnel: every driver call goes through here.
    func check(_ result: Result, _ call: @autoclosure () -> String) throws(CUDAError) {
        guard result != 0 else { return }
        var name: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?
        _ = cuGetErrorName(result, &name)
        _ = cuGetErrorString(result, &message)
        throw .driver(
            call: call(), code: result, name: name.map { String(cString: $0) } ?? "CUDA_ERROR_\(result)",
            message: message.map { String(cString: $0) } ?? "unknown error")
    }
}
