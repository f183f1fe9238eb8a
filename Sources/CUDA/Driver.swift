/// The CUDA driver API (libcuda.so.1), opened at run time. Each field is one C function
/// with its prototype from cuda.h: handles are opaque pointers, CUdevice an int,
/// CUdeviceptr a 64-bit integer, CUresult an int (0: success).
package struct Driver: Sendable {
    package typealias Handle = OpaquePointer?
    package typealias Result = Int32

    package let library: String
    package let cuInit: @convention(c) (UInt32) -> Result
    package let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    package let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    package let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Result
    package let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    package let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Result
    package let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Result
    package let cuDeviceGetPCIBusId: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    package let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<Handle>, Int32) -> Result
    package let cuCtxSetCurrent: @convention(c) (Handle) -> Result
    package let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Result
    package let cuMemFree: @convention(c) (UInt64) -> Result
    package let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Result
    package let cuMemHostAlloc: @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int, UInt32) -> Result
    package let cuMemFreeHost: @convention(c) (UnsafeMutableRawPointer?) -> Result
    package let cuMemcpyHtoDAsync: @convention(c) (UInt64, UnsafeRawPointer?, Int, Handle) -> Result
    package let cuMemcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer?, UInt64, Int, Handle) -> Result
    package let cuMemsetD32Async: @convention(c) (UInt64, UInt32, Int, Handle) -> Result
    package let cuStreamCreate: @convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Result
    package let cuStreamDestroy: @convention(c) (Handle) -> Result
    package let cuStreamSynchronize: @convention(c) (Handle) -> Result
    package let cuEventCreate: @convention(c) (UnsafeMutablePointer<Handle>, UInt32) -> Result
    package let cuEventRecord: @convention(c) (Handle, Handle) -> Result
    package let cuEventSynchronize: @convention(c) (Handle) -> Result
    package let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, Handle, Handle) -> Result
    package let cuEventDestroy: @convention(c) (Handle) -> Result
    package let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<Handle>, UnsafeRawPointer) -> Result
    package let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UnsafePointer<CChar>) -> Result
    package let cuLaunchKernel: @convention(c) (
        Handle, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, Handle,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> Result
    package let cuGetErrorName: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result
    /// CUDA graphs (driver 11.4 and later): nil where the driver lacks them.
    package let graphs: Graphs?
    package let cuGetErrorString: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result

    /// CUDAStream capture into a graph, and replaying it.
    package struct Graphs: Sendable {
        package let cuStreamBeginCapture: @convention(c) (Handle, Int32) -> Result
        package let cuStreamEndCapture: @convention(c) (Handle, UnsafeMutablePointer<Handle>) -> Result
        package let cuGraphInstantiateWithFlags: @convention(c) (UnsafeMutablePointer<Handle>, Handle, UInt64) -> Result
        package let cuGraphLaunch: @convention(c) (Handle, Handle) -> Result
        package let cuGraphExecDestroy: @convention(c) (Handle) -> Result
        package let cuGraphDestroy: @convention(c) (Handle) -> Result

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
    package static let attributeMultiprocessorCount: Int32 = 16
    package static let attributeComputeCapabilityMajor: Int32 = 75
    package static let attributeComputeCapabilityMinor: Int32 = 76
    package static let hostAllocPortable: UInt32 = 1
    package static let streamNonBlocking: UInt32 = 1
    package static let errorNoDevice: Int32 = 100
    /// CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: only this thread's unsafe calls end a capture
    /// (another device thread may allocate meanwhile).
    package static let captureThreadLocal: Int32 = 1

    package init(_ lib: DynamicLibrary) throws(CUDAError) {
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
    package func check(_ result: Result, _ call: @autoclosure () -> String) throws(CUDAError) {
        guard result != 0 else { return }
        var name: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?
        _ = cuGetErrorName(result, &name)
        _ = cuGetErrorString(result, &message)
        throw .driver(
            call: call(), code: result, name: name.map { String(cString: $0) } ?? "CUDA_ERROR_\(result)",
            message: message.map { String(cString: $0) } ?? "unknown error")
    }
}
