import Foundation
import Synchronization

/// The CPU time of each thread of this process, read from the kernel
/// (`/proc/self/task/*/stat`), so a run can say how many threads did its compute rather
/// than how many it asked for. Threads are told apart by the names mgpr gives them:
/// `mgpr-device-D-L` for device D's threads, and every thread such a thread starts
/// (OpenMP's workers, which inherit the name); `mgpr-reader-N` for the loader's readers.
/// A thread's time is lost when it ends, so the run samples while its threads are alive:
/// every second, and from each device thread just before it returns.
public final class ThreadTimes: Sendable {
    private let seen = Mutex<[Int: (name: String, ticks: Int)]>([:])
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let startCPUSeconds = ThreadTimes.processCPUSeconds()

    public init() {}

    /// Records every live thread's CPU time so far.
    public func sample() {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        var now: [Int: (String, Int)] = [:]
        for task in tasks {
            guard let id = Int(task), let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let parsed = Self.parse(stat: stat)
            else { continue }
            now[id] = parsed
        }
        seen.withLock { seen in
            for (id, thread) in now where thread.1 >= (seen[id]?.ticks ?? 0) { seen[id] = (thread.0, thread.1) }
        }
    }

    /// What the threads used, as far as sampled.
    public func usage() -> Usage {
        let threads = seen.withLock { $0.values.map { (name: $0.name, seconds: Double($0.ticks) / ticksPerSecond) } }
        var usage = Usage(cpuSeconds: Self.processCPUSeconds() - startCPUSeconds)
        for thread in threads {
            if let device = Self.device(named: thread.name) {
                usage.deviceThreads[device, default: []].append(thread.seconds)
            } else if thread.name.hasPrefix("mgpr-reader") {
                usage.readerSeconds += thread.seconds
            }
        }
        return usage
    }

    public struct Usage: Sendable {
        /// The process's CPU time (user + system) since the run began: every thread's.
        public var cpuSeconds: Double
        /// Each device's threads' CPU seconds, one entry per thread.
        public var deviceThreads: [Int: [Double]] = [:]
        public var readerSeconds = 0.0

        /// Threads that did device `device`'s work: those with at least a tenth of the
        /// busiest one's time (an idle OpenMP worker, or one that ran only while a plan
        /// was built, is not one).
        public func threadsUsed(device: Int) -> Int {
            let times = deviceThreads[device] ?? []
            let busiest = times.max() ?? 0
            return busiest > 0 ? times.filter { $0 >= busiest / 10 }.count : 0
        }

        public func computeSeconds(device: Int) -> Double { (deviceThreads[device] ?? []).reduce(0, +) }
    }

    /// "mgpr-device-3-1" -> 3.
    static func device(named name: String) -> Int? {
        guard name.hasPrefix("mgpr-device-") else { return nil }
        return Int(name.dropFirst("mgpr-device-".count).prefix { $0 != "-" })
    }

    /// A thread's name and user + system clock ticks from its `stat` line:
    /// "tid (name) state ppid ... utime stime ..." (fields 14 and 15). The name may hold
    /// spaces and parentheses, so fields are counted after its last ")".
    static func parse(stat: String) -> (String, Int)? {
        guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return (String(stat[stat.index(after: open)..<close]), user + system)
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
