import CUDA
import Engine
import Foundation
import Synchronization
import Weights

/// Runs graphs on one NVIDIA GPU: cuDNN for convolutions and pooling, NVRTC kernels for
/// the rest, batches from pinned memory. Precision as PyTorch on CUDA: float32 with TF32
/// convolutions unless `tf32` is false; float16 and bfloat16 on tensor cores with
/// float32 accumulation.
public final class CUDABackend: Backend, @unchecked Sendable {
    public let device: CUDADevice
    public let tf32: Bool
    public let cudnnVersion: String
    public let nvrtcVersion: String
    private let cache = KernelCache()
    /// The convolution algorithms measured on this GPU model, kept beside the kernels.
    let algorithmChoices: AlgorithmChoices
    private let modules = Mutex<[ElementType: KernelModule]>([:])
    private let detection = Mutex<KernelModule?>(nil)

    /// The backend for GPU `ordinal`; fails with the reason (missing library, no such
    /// GPU) before any work starts.
    public init(ordinal: Int, tf32: Bool = true) throws(CUDAError) {
        let cuda = try CUDA.shared.get()
        device = try cuda.device(ordinal)
        self.tf32 = tf32
        cudnnVersion = try cuda.cudnn().version
        nvrtcVersion = try cuda.nvrtc().version
        algorithmChoices = AlgorithmChoices(
            cache: KernelCache(), deviceName: device.name, architecture: device.architecture, cudnnVersion: cudnnVersion)
    }

    public var description: String {
        let gib = Double(device.totalMemory) / Double(1 << 30)
        return "\(device.name) (sm_\(device.architecture), \(String(format: "%.0f", gib)) GiB; CUDA driver \(device.cuda.driverVersion), cuDNN \(cudnnVersion), NVRTC \(nvrtcVersion))"
    }

    public var deviceKind: DeviceKind { .gpu }
    public var deviceName: String { "GPU \(device.ordinal) (\(device.name))" }
    public var hostMemory: (any HostMemory)? { PinnedMemory(device: device) }

    public func resolve(_ requested: Precision) -> (Precision, notice: String?) {
        switch requested {
        case .f32:
            return (.f32, tf32 ? "convolutions use TF32 tensor cores, as PyTorch does on CUDA by default (tf32=false for full float32)" : nil)
        case .f16: return (.f16, nil)
        case .bf16:
            if device.computeCapability.major >= 8 { return (.bf16, nil) }
            return (.f16, "bfloat16 needs compute capability 8.0; \(device.name) has \(device.computeCapability.major).\(device.computeCapability.minor): running in float16")
        }
    }

    public func compile(_ graph: Graph, weights: WeightStore, precision: Precision) throws -> any Plan {
        let type = precision.elementType
        return try CUDAPlan(
            graph: graph, weights: weights, type: type, tf32: tf32, device: device, module: try module(type), choices: algorithmChoices)
    }

    public func compile(_ program: DetectorProgram, weights: WeightStore, precision: Precision) throws -> any DetectorPlan {
        try DetectorPass(backend: self, weights: weights, precision: precision, program: program)
    }

    /// The kernels for `type` on this GPU, compiled (or read from the cache) once.
    func module(_ type: ElementType) throws -> KernelModule {
        let result = modules.withLock { modules -> Result<KernelModule, any Error> in
            if let module = modules[type] { return .success(module) }
            let result = Result { try KernelModule(device: device, type: type, cache: cache) }
            if case .success(let module) = result { modules[type] = module }
            return result
        }
        return try result.get()
    }

    /// The detector's kernels on this GPU (float32 only), compiled or read from the cache once.
    func detectionModule() throws -> KernelModule {
        try detection.withLock { module in
            if let module { return module }
            let made = try KernelModule(
                device: device, source: DetectionKernels.source, name: "mgpr_detection.cu", options: DetectionKernels.options,
                functions: DetectionKernels.names, cache: cache)
            module = made
            return made
        }
    }
}
