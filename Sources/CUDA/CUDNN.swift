/// cuDNN 9's convolution and pooling calls (the legacy API, exported by libcudnn.so.9),
/// opened at run time. Descriptors and handles are opaque pointers; enums are ints.
package struct CUDNN: Sendable {
    package typealias Handle = OpaquePointer?
    package typealias Status = Int32

    /// cudnnConvolutionFwdAlgoPerf_t, laid out as the C struct (48 bytes).
    package struct AlgorithmPerformance {
        package var algorithm: Int32 = 0
        package var status: Int32 = 0
        package var time: Float = 0
        package var memory: Int = 0
        package var determinism: Int32 = 0
        package var mathType: Int32 = 0
        package var reserved: (Int32, Int32, Int32) = (0, 0, 0)
        package init() {}
    }

    // cudnn_graph.h / cudnn_ops.h / cudnn_cnn.h values.
    package static let formatNHWC: Int32 = 1
    package static let dataFloat: Int32 = 0, dataHalf: Int32 = 2, dataBFloat16: Int32 = 9
    package static let crossCorrelation: Int32 = 1
    package static let defaultMath: Int32 = 0, tensorOpMath: Int32 = 1, fmaMath: Int32 = 3
    package static let poolingMax: Int32 = 0, poolingAverageExcludingPadding: Int32 = 2
    package static let notPropagateNaN: Int32 = 0
    package static let activationReLU: Int32 = 1

    package let library: String
    package let cudnnGetVersion: @convention(c) () -> Int
    package let cudnnGetErrorString: @convention(c) (Status) -> UnsafePointer<CChar>?
    package let cudnnCreate: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    package let cudnnDestroy: @convention(c) (Handle) -> Status
    package let cudnnSetStream: @convention(c) (Handle, Handle) -> Status
    package let cudnnCreateTensorDescriptor: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    package let cudnnSetTensor4dDescriptor: @convention(c) (Handle, Int32, Int32, Int32, Int32, Int32, Int32) -> Status
    package let cudnnDestroyTensorDescriptor: @convention(c) (Handle) -> Status
    package let cudnnCreateFilterDescriptor: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    package let cudnnSetFilter4dDescriptor: @convention(c) (Handle, Int32, Int32, Int32, Int32, Int32, Int32) -> Status
    package let cudnnDestroyFilterDescriptor: @convention(c) (Handle) -> Status
    package let cudnnCreateConvolutionDescriptor: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    package let cudnnSetConvolution2dDescriptor: @convention(c) (Handle, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) -> Status
    package let cudnnSetConvolutionMathType: @convention(c) (Handle, Int32) -> Status
    package let cudnnDestroyConvolutionDescriptor: @convention(c) (Handle) -> Status
    package let cudnnGetConvolutionForwardAlgorithm_v7: @convention(c) (
        Handle, Handle, Handle, Handle, Handle, Int32, UnsafeMutablePointer<Int32>, UnsafeMutableRawPointer
    ) -> Status
    package let cudnnFindConvolutionForwardAlgorithmEx: @convention(c) (
        Handle, Handle, UnsafeRawPointer?, Handle, UnsafeRawPointer?, Handle, Handle, UnsafeMutableRawPointer?, Int32,
        UnsafeMutablePointer<Int32>, UnsafeMutableRawPointer, UnsafeMutableRawPointer?, Int
    ) -> Status
    package let cudnnConvolutionForward: @convention(c) (
        Handle, UnsafeRawPointer, Handle, UnsafeRawPointer?, Handle, UnsafeRawPointer?, Handle, Int32,
        UnsafeMutableRawPointer?, Int, UnsafeRawPointer, Handle, UnsafeMutableRawPointer?
    ) -> Status
    package let cudnnConvolutionBiasActivationForward: @convention(c) (
        Handle, UnsafeRawPointer, Handle, UnsafeRawPointer?, Handle, UnsafeRawPointer?, Handle, Int32,
        UnsafeMutableRawPointer?, Int, UnsafeRawPointer, Handle, UnsafeRawPointer?, Handle, UnsafeRawPointer?, Handle, Handle,
        UnsafeMutableRawPointer?
    ) -> Status
    package let cudnnCreateActivationDescriptor: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    package let cudnnSetActivationDescriptor: @convention(c) (Handle, Int32, Int32, Double) -> Status
    package let cudnnDestroyActivationDescriptor: @convention(c) (Handle) -> Status
    package let cudnnCreatePoolingDescriptor: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    package let cudnnSetPooling2dDescriptor: @convention(c) (Handle, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) -> Status
    package let cudnnDestroyPoolingDescriptor: @convention(c) (Handle) -> Status
    package let cudnnPoolingForward: @convention(c) (
        Handle, Handle, UnsafeRawPointer, Handle, UnsafeRawPointer?, UnsafeRawPointer, Handle, UnsafeMutableRawPointer?
    ) -> Status

    package init(_ lib: DynamicLibrary) throws(CUDAError) {
        library = lib.path
        cudnnGetVersion = try lib.function("cudnnGetVersion")
        cudnnGetErrorString = try lib.function("cudnnGetErrorString")
        cudnnCreate = try lib.function("cudnnCreate")
        cudnnDestroy = try lib.function("cudnnDestroy")
        cudnnSetStream = try lib.function("cudnnSetStream")
        cudnnCreateTensorDescriptor = try lib.function("cudnnCreateTensorDescriptor")
        cudnnSetTensor4dDescriptor = try lib.function("cudnnSetTensor4dDescriptor")
        cudnnDestroyTensorDescriptor = try lib.function("cudnnDestroyTensorDescriptor")
        cudnnCreateFilterDescriptor = try lib.function("cudnnCreateFilterDescriptor")
        cudnnSetFilter4dDescriptor = try lib.function("cudnnSetFilter4dDescriptor")
        cudnnDestroyFilterDescriptor = try lib.function("cudnnDestroyFilterDescriptor")
        cudnnCreateConvolutionDescriptor = try lib.function("cudnnCreateConvolutionDescriptor")
        cudnnSetConvolution2dDescriptor = try lib.function("cudnnSetConvolution2dDescriptor")
        cudnnSetConvolutionMathType = try lib.function("cudnnSetConvolutionMathType")
        cudnnDestroyConvolutionDescriptor = try lib.function("cudnnDestroyConvolutionDescriptor")
        cudnnGetConvolutionForwardAlgorithm_v7 = try lib.function("cudnnGetConvolutionForwardAlgorithm_v7")
        cudnnFindConvolutionForwardAlgorithmEx = try lib.function("cudnnFindConvolutionForwardAlgorithmEx")
        cudnnConvolutionForward = try lib.function("cudnnConvolutionForward")
        cudnnConvolutionBiasActivationForward = try lib.function("cudnnConvolutionBiasActivationForward")
        cudnnCreateActivationDescriptor = try lib.function("cudnnCreateActivationDescriptor")
        cudnnSetActivationDescriptor = try lib.function("cudnnSetActivationDescriptor")
        cudnnDestroyActivationDescriptor = try lib.function("cudnnDestroyActivationDescriptor")
        cudnnCreatePoolingDescriptor = try lib.function("cudnnCreatePoolingDescriptor")
        cudnnSetPooling2dDescriptor = try lib.function("cudnnSetPooling2dDescriptor")
        cudnnDestroyPoolingDescriptor = try lib.function("cudnnDestroyPoolingDescriptor")
        cudnnPoolingForward = try lib.function("cudnnPoolingForward")
    }

    /// "9.10.2" from cudnnGetVersion's 91002.
    package var version: String {
        let v = cudnnGetVersion()
        return "\(v / 10000).\(v / 100 % 100).\(v % 100)"
    }

    package func check(_ status: Status, _ call: @autoclosure () -> String) throws(CUDAError) {
        guard status != 0 else { return }
        throw .cudnn(call: call(), code: status, message: cudnnGetErrorString(status).map { String(cString: $0) } ?? "error")
    }
}
