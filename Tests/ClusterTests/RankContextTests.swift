import Foundation
import Testing
@testable import Cluster

@Suite("Rank discovery and sharding")
struct RankContextTests {
    @Test("no launcher: one rank")
    func single() {
        #expect(RankContext.discover([:]) == .single)
    }

    @Test("an srun task reads SLURM's variables")
    func slurm() {
        let context = RankContext.discover([
            "SLURM_JOB_ID": "42", "SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_LOCALID": "1",
            "SLURM_NODEID": "1", "SLURM_STEP_ID": "0", "SLURM_RESTART_COUNT": "2", "CUDA_VISIBLE_DEVICES": "0,1",
        ])
        #expect(context.launcher == .slurm && context.rank == 3 && context.worldSize == 4)
        #expect(context.localRank == 1 && context.nodeRank == 1 && context.jobID == "42")
        #expect(context.restartCount == 2 && context.visibleGPUs == "0,1" && context.slurmTasksWithoutSrun == nil)
        #expect(context.logName == "mgpr.rank3")
    }

    @Test("a multi-task batch script run without srun is one process, and says why")
    func slurmWithoutSrun() {
        let context = RankContext.discover(["SLURM_JOB_ID": "42", "SLURM_PROCID": "0", "SLURM_NTASKS": "2"])
        #expect(context.worldSize == 1 && context.slurmTasksWithoutSrun == 2)
        let batchStep = RankContext.discover(["SLURM_JOB_ID": "42", "SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_STEP_ID": "batch"])
        #expect(batchStep.slurmTasksWithoutSrun == 2)
        let oneTask = RankContext.discover(["SLURM_JOB_ID": "42", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"])
        #expect(oneTask.worldSize == 1 && oneTask.slurmTasksWithoutSrun == nil && oneTask.jobID == "42")
    }

    @Test("torchrun's RANK, WORLD_SIZE and LOCAL_RANK")
    func torchrun() {
        let context = RankContext.discover(["RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "TORCHELASTIC_RUN_ID": "abc"])
        #expect(context.launcher == .torchrun && context.rank == 1 && context.worldSize == 2 && context.jobID == "abc")
    }

    @Test("shares cover every tile exactly once, sizes within one",
          arguments: [0, 1, 2, 3, 7, 16, 17, 100, 1001], [1, 2, 3, 4, 8, 13])
    func sharding(tiles: Int, world: Int) {
        let shares = (0..<world).map { RankContext.share(of: tiles, rank: $0, worldSize: world) }
        #expect(shares.flatMap { Array($0) } == Array(0..<tiles))
        let sizes = shares.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
    }

    @Test("ranks x devices x tiles: more workers than tiles still gives each tile once")
    func moreWorkersThanTiles() {
        // 3 tiles, 4 ranks: one rank gets none, and the union is still every tile once.
        let shares = (0..<4).map { RankContext.share(of: 3, rank: $0, worldSize: 4) }
        #expect(shares.map(\.count).sorted() == [0, 1, 1, 1])
        #expect(shares.flatMap { Array($0) }.sorted() == [0, 1, 2])
    }

}
