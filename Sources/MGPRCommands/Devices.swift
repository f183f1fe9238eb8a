import Cluster
import Configuration
import CPUBackend
import CUDA
import CUDABackend
import Engine
import Foundation

/// The devices a run computes on, one backend each, from `accelerator`, `gpus` and the
/// rank: `accelerator=gpu` takes this rank's GPUs or fails naming what is missing;
/// `auto` takes them when they are usable and otherwise says why it runs on the CPU.
struct Devices: Sendable {
    let backends: [any Backend]
    /// The GPUs behind the backends, in order (none on the CPU): for NVML's readings.
    let gpus: [CUDADevice]
    let precision: Precision
    /// Why a GPU was not used under accelerator=auto (nil when one is, or when cpu was asked).
    let cpuReason: String?
    /// Device threads per device: `gpu_lanes` on a GPU (two by default, so one batch's
    /// copy in, and the host's work on the last one's results, overlaps the other's
    /// compute); one on a CPU, whose threads are all the plan's already.
    let lanes: Int

    var kind: DeviceKind { backends[0].deviceKind }
    var count: Int { backends.count }
    var onGPU: Bool { kind == .gpu }
    /// The models a run makes, each with its own plans: one per lane of each device.
    var models: Int { count * lanes }

    static func choose(_ config: RunConfig, context: RankContext, log: Log) throws -> Devices {
        var reason: String?
        if config.accelerator != .cpu {
            switch gpus(config, context: context) {
            case .success(let backends): return resolved(backends, gpus: backends.map(\.device), config, log: log, cpuReason: nil)
            case .failure(let error):
                if config.accelerator == .gpu {
                    throw CommandError.gpuUnavailable(accelerator: config.settings["accelerator"].yaml, reason: "\(error)")
                }
                reason = "\(error.brief) (mgpr doctor -v says where mgpr looked and what to install)"
            }
        }
        let cores = CPUCores.current()
        guard config.devices <= cores.usable else {
            throw ConfigError.invalidValue(
                key: "gpus", value: "\(config.devices)",
                reason: "on CPU each device needs a core of its own and this process may use \(cores) cores; "
                    + "use gpus=\(cores.usable) or fewer")
        }
        let threads = max(1, (config.cpuThreads == 0 ? cores.usable : config.cpuThreads) / config.devices)
        return resolved(
            (0..<config.devices).map { CPUBackend(threads: threads, index: $0) }, gpus: [], config, log: log, cpuReason: reason)
    }

    /// This rank's `gpus` GPUs: under SLURM or torchrun, ranks on one node that all see
    /// every GPU take consecutive ones by local rank; a rank that sees only its own
    /// (CUDA_VISIBLE_DEVICES set per task) takes those from 0.
    static func gpus(_ config: RunConfig, context: RankContext) -> Result<[CUDABackend], CUDAError> {
        Result { () throws(CUDAError) -> [CUDABackend] in
            let cuda = try CUDA.shared.get()
            guard cuda.deviceCount > 0 else { throw .noDevice("the NVIDIA driver reports no GPU\(CUDA.visibleDevicesNote)") }
            let ordinals = try ordinals(wanted: config.devices, visible: cuda.deviceCount, context: context).get()
            return try ordinals.map { ordinal throws(CUDAError) in try CUDABackend(ordinal: ordinal, tf32: config.tf32) }
        }
    }

    /// Which of the `visible` GPUs this rank takes for `wanted` devices.
    static func ordinals(wanted: Int, visible: Int, context: RankContext) -> Result<Range<Int>, CUDAError> {
        let first = context.isDistributed && visible >= (context.localRank + 1) * wanted ? context.localRank * wanted : 0
        guard first + wanted <= visible else {
            return .failure(.noDevice("gpus=\(wanted) but this rank sees \(visible) GPU(s)\(CUDA.visibleDevicesNote); use gpus=\(visible) or fewer"))
        }
        return .success(first..<(first + wanted))
    }

    private static func resolved(
        _ backends: [any Backend], gpus: [CUDADevice], _ config: RunConfig, log: Log, cpuReason: String?
    ) -> Devices {
        let (precision, notice) = backends[0].resolve(ModelSetup.precision(config.precision))
        if let notice { log.info("precision=\(config.precision.rawValue): \(notice)") }
        let lanes = backends[0].deviceKind == .gpu ? config.gpuLanes : 1
        return Devices(backends: backends, gpus: gpus, precision: precision, cpuReason: cpuReason, lanes: lanes)
    }
}
