import Foundation

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
