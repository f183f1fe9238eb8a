import Foundation
import Synchronization

/// A thread that can be joined: Foundation's `Thread` has no join, so the body
/// signals a semaphore when it returns.
final class JoinableThread: Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let done = self.done
        let thread = Thread {
            nameThisThread(name)
            body()
            done.signal()
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    func join() { done.wait() }

    /// Waits at most `seconds` for the thread to end; false when it is still running.
    func join(timeout seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
}

/// Threads a run left behind, blocked where nothing can interrupt them: a reader inside
/// a read of a stalled remote raster when the run stopped. They hold the libraries' locks
/// and handles, so the process must end without the libraries' exit-time cleanup, which
/// would wait on those locks or free what the thread is using.
public enum AbandonedThreads {
    private static let count = Atomic<Int>(0)

    static func record(_ threads: Int) { count.add(threads, ordering: .sequentiallyConsistent) }

    public static var any: Bool { count.load(ordering: .sequentiallyConsistent) > 0 }
}

/// Gives the calling thread `name` (15 bytes at most) where the kernel keeps it (`top -H`,
/// /proc/PID/task/*/comm): Foundation does not pass `Thread.name` on to it. Threads this
/// one starts afterwards (OpenMP's workers) inherit it, so each thread's CPU time can be
/// told apart (``ThreadTimes``).
func nameThisThread(_ name: String) {
    guard let file = fopen("/proc/thread-self/comm", "w") else { return }
    fputs(String(name.utf8.prefix(15))!, file)
    fclose(file)
}

/// Seconds on a monotonic clock, for intervals.
@inline(__always) func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
