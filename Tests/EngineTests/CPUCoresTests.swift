import Foundation
import Testing
@testable import CPUBackend

@Suite("The cores this process may use")
struct CPUCoresTests {
    @Test("kernel CPU lists count each CPU once; malformed lists are refused")
    func cpuLists() {
        #expect(CPUCores.cpuListCount("0-3,8,10-11") == 7)
        #expect(CPUCores.cpuListCount("5") == 1)
        #expect(CPUCores.cpuListCount("0-63") == 64)
        #expect(CPUCores.cpuListCount("") == nil)
        #expect(CPUCores.cpuListCount("3-1") == nil)
        #expect(CPUCores.cpuListCount("a-b") == nil)
        let status = "Name:\tmgpr\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1,4\nMems_allowed:\t1\n"
        #expect(CPUCores.affinityCount(status: status) == 3)
        #expect(CPUCores.affinityCount(status: "Name:\tmgpr\n") == nil)
    }

    @Test("the smallest limit applies, and the description names which")
    func smallestLimit() {
        let bound = CPUCores(machine: 64, affinity: 8, quota: 12, slurmCPUsPerTask: nil)
        #expect(bound.usable == 8)
        #expect(bound.description == "8 of 64 (CPU affinity, cgroup CPU quota)")
        #expect(CPUCores(machine: 64, affinity: 64, quota: nil, slurmCPUsPerTask: 4).description == "4 of 64 (SLURM_CPUS_PER_TASK)")
        #expect(CPUCores(machine: 2, affinity: 2, quota: nil, slurmCPUsPerTask: nil).description == "2")
        #expect(CPUCores(machine: 2, affinity: nil, quota: nil, slurmCPUsPerTask: nil).usable == 2)
    }

    /// A folder laid out as /proc and /sys/fs/cgroup are.
    func fileSystem(_ files: [String: String]) throws -> CgroupQuota.FileSystem {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-cgroup-\(UUID().uuidString.prefix(8))")
        for (path, text) in files {
            let url = root.appendingPathComponent(String(path.dropFirst()))
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return CgroupQuota.FileSystem(root: root.path)
    }

    @Test("cgroup v2: the smallest cpu.max from the process's cgroup up, rounded up to whole cores")
    func cgroupV2() throws {
        let limited = try fileSystem([
            "/proc/self/cgroup": "0::/slurm/uid_1000/job_7/step_0\n",
            "/sys/fs/cgroup/slurm/uid_1000/job_7/step_0/cpu.max": "max 100000\n",
            "/sys/fs/cgroup/slurm/uid_1000/job_7/cpu.max": "250000 100000\n",
            "/sys/fs/cgroup/slurm/cpu.max": "800000 100000\n",
        ])
        #expect(CgroupQuota.cores(fileSystem: limited) == 3)
        let unlimited = try fileSystem(["/proc/self/cgroup": "0::/user.slice\n", "/sys/fs/cgroup/user.slice/cpu.max": "max 100000\n"])
        #expect(CgroupQuota.cores(fileSystem: unlimited) == nil)
        // Inside a cgroup namespace the process's cgroup is the mount's root.
        let namespaced = try fileSystem(["/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/cpu.max": "50000 100000\n"])
        #expect(CgroupQuota.cores(fileSystem: namespaced) == 1)
    }

    @Test("cgroup v1: cpu.cfs_quota_us over cpu.cfs_period_us; -1 is no quota")
    func cgroupV1() throws {
        let limited = try fileSystem([
            "/proc/self/cgroup": "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n",
            "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "400000\n",
            "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        ])
        #expect(CgroupQuota.cores(fileSystem: limited) == 4)
        let unlimited = try fileSystem([
            "/proc/self/cgroup": "4:cpu,cpuacct:/\n",
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        ])
        #expect(CgroupQuota.cores(fileSystem: unlimited) == nil)
        #expect(CgroupQuota.cores(fileSystem: try fileSystem([:])) == nil)
    }

    @Test("this process's own limits are read: its affinity is what the kernel says")
    func current() throws {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let cores = CPUCores.current(environment: [:])
        #expect(cores.affinity != nil)
        #expect(cores.affinity == CPUCores.affinityCount(status: status))
        #expect(cores.usable >= 1 && cores.usable <= cores.machine)
    }
}
