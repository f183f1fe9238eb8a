import Foundation

/// The cores this process may use, which on a cluster node is rarely the machine's count:
/// SLURM binds a task to its `--cpus-per-task` cores (CPU affinity) or limits it by a
/// cgroup quota, containers set a quota, `taskset` sets affinity. Foundation's
/// `activeProcessorCount` reports the machine's cores whatever the affinity, so a
/// default of "all cores" taken from it oversubscribes a shared node.
public struct CPUCores: Sendable, Equatable, CustomStringConvertible {
    /// Cores the machine has (online).
    public let machine: Int
    /// Cores in this process's CPU affinity mask, where it could be read.
    public let affinity: Int?
    /// Whole cores' worth of a cgroup CPU quota (rounded up), where one is set.
    public let quota: Int?
    /// SLURM's `SLURM_CPUS_PER_TASK`, honoured where SLURM sets it but does not bind.
    public let slurmCPUsPerTask: Int?

    /// What this process may use: the smallest of the limits, at least 1.
    public var usable: Int {
        max(1, [machine, affinity, quota, slurmCPUsPerTask].compactMap { $0 }.min() ?? 1)
    }

    /// "2", or "2 of 16 (CPU affinity)" where a limit applies.
    public var description: String {
        let limits = [
            affinity.map { ($0, "CPU affinity") }, quota.map { ($0, "cgroup CPU quota") },
            slurmCPUsPerTask.map { ($0, "SLURM_CPUS_PER_TASK") },
        ].compactMap { $0 }.filter { $0.0 < machine }
        guard !limits.isEmpty else { return "\(usable)" }
        return "\(usable) of \(machine) (\(limits.map(\.1).joined(separator: ", ")))"
    }

    public init(machine: Int, affinity: Int?, quota: Int?, slurmCPUsPerTask: Int?) {
        (self.machine, self.affinity, self.quota, self.slurmCPUsPerTask) = (machine, affinity, quota, slurmCPUsPerTask)
    }

    /// This process's limits, read now.
    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> CPUCores {
        CPUCores(
            machine: ProcessInfo.processInfo.activeProcessorCount, affinity: affinityCount(),
            quota: CgroupQuota.cores(fileSystem: CgroupQuota.FileSystem()),
            slurmCPUsPerTask: environment["SLURM_CPUS_PER_TASK"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil })
    }

    /// The number of CPUs in this process's affinity mask, from the kernel's
    /// `Cpus_allowed_list` (e.g. "0-3,8-11").
    static func affinityCount(status: String? = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) -> Int? {
        guard let line = status?.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        return cpuListCount(line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces))
    }

    /// CPUs in a kernel CPU list ("0-3,8,10-11" -> 7); nil if it does not parse.
    static func cpuListCount(_ list: String) -> Int? {
        var count = 0
        for range in list.split(separator: ",") {
            let ends = range.split(separator: "-").map { Int($0) }
            switch ends.count {
            case 1 where ends[0] != nil: count += 1
            case 2 where ends[0] != nil && ends[1] != nil && ends[1]! >= ends[0]!: count += ends[1]! - ends[0]! + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }
}
