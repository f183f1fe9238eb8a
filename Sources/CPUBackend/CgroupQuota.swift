import Foundation

/// A cgroup CPU quota (cgroup v2's `cpu.max`, v1's `cpu.cfs_quota_us` over
/// `cpu.cfs_period_us`) in whole cores, rounded up: a quota of 1.5 cores keeps two
/// threads busy only three quarters of the time, but one thread would leave half a core
/// unused. The smallest quota on the way from this process's cgroup to the root applies.
enum CgroupQuota {
    /// Where the files are read: `/` on a real system, a folder laid out like one in tests.
    struct FileSystem {
        var root = ""
        func read(_ path: String) -> String? {
            try? String(contentsOfFile: root + path, encoding: .utf8)
        }
    }

    static func cores(fileSystem: FileSystem) -> Int? {
        guard let membership = fileSystem.read("/proc/self/cgroup") else { return nil }
        var quotas: [Double] = []
        for line in membership.split(separator: "\n") {
            // "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1)
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                quotas += ancestors(path).compactMap { fileSystem.read("/sys/fs/cgroup\($0)/cpu.max").flatMap(v2Quota) }
            } else if fields[1].split(separator: ",").contains("cpu") {
                for mount in ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"] {
                    quotas += ancestors(path).compactMap { folder in
                        guard let quota = fileSystem.read("\(mount)\(folder)/cpu.cfs_quota_us"),
                              let period = fileSystem.read("\(mount)\(folder)/cpu.cfs_period_us")
                        else { return nil }
                        return v1Quota(quota: quota, period: period)
                    }
                }
            }
        }
        return quotas.min().map { max(1, Int($0.rounded(.up))) }
    }

    /// `cpu.max`: "max 100000" (no quota) or "150000 100000" (1.5 cores).
    static func v2Quota(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let quota = Double(fields[0]), let period = Double(fields[1]), quota > 0, period > 0
        else { return nil }
        return quota / period
    }

    /// v1: a quota of -1 is none.
    static func v1Quota(quota: String, period: String) -> Double? {
        guard let quota = Double(quota.trimmingCharacters(in: .whitespacesAndNewlines)),
              let period = Double(period.trimmingCharacters(in: .whitespacesAndNewlines)), quota > 0, period > 0
        else { return nil }
        return quota / period
    }

    /// "/a/b" -> ["/a/b", "/a", ""]: a process's own cgroup and every one above it. Inside
    /// a cgroup namespace the path is "/" and only the root's files are there.
    static func ancestors(_ path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        var folders: [String] = []
        while !parts.isEmpty {
            folders.append("/" + parts.joined(separator: "/"))
            parts.removeLast()
        }
        return folders + [""]
    }
}
