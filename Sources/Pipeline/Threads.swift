import Foundation

/// A thread that can be joined: Foundation's `Thread` has no join, so the body
/// signals a semaphore when it returns.
final class JoinableThread: Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let done = self.done
        let thread = Thread {
            body()
            done.signal()
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    func join() { done.wait() }
}

/// Seconds on a monotonic clock, for intervals.
@inline(__always) func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
