import CUDA
import CUDABackend
import Cluster
import Testing
@testable import MGPRCommands

/// Which GPUs a rank takes: its local share where it sees every GPU of the node, its
/// own from 0 where SLURM shows it only those, and a clear refusal where there are too few.
@Suite("GPU selection")
struct GPUSelectionTests {
    func rank(_ local: Int, of world: Int) -> RankContext {
        RankContext.discover(["SLURM_JOB_ID": "7", "SLURM_PROCID": "\(local)", "SLURM_LOCALID": "\(local)",
                              "SLURM_NTASKS": "\(world)", "SLURM_STEP_ID": "0"])
    }

    @Test("one process takes the first N; ranks that see the whole node take theirs by local rank")
    func shares() throws {
        let single = RankContext.discover([:])
        #expect(try Devices.ordinals(wanted: 2, visible: 4, context: single).get() == 0..<2)
        #expect(try Devices.ordinals(wanted: 1, visible: 2, context: rank(1, of: 2)).get() == 1..<2)
        #expect(try Devices.ordinals(wanted: 2, visible: 4, context: rank(1, of: 2)).get() == 2..<4)
        // SLURM gave each task its own GPU (CUDA_VISIBLE_DEVICES per task): it is GPU 0 there.
        #expect(try Devices.ordinals(wanted: 1, visible: 1, context: rank(1, of: 2)).get() == 0..<1)
    }

    @Test("more GPUs asked for than seen: one line saying how many there are")
    func tooMany() {
        guard case .failure(let error) = Devices.ordinals(wanted: 3, visible: 2, context: RankContext.discover([:])) else {
            Issue.record("3 of 2 GPUs were given")
            return
        }
        #expect(error.description.hasPrefix("gpus=3 but this rank sees 2 GPU(s)") && error.description.hasSuffix("use gpus=2 or fewer"))
    }
}
