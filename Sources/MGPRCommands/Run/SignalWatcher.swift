import Dispatch
import Foundation
import Synchronization

/// Turns SIGUSR1 (SLURM's warning before the time limit), SIGTERM (preemption, requeue,
/// scancel), SIGINT (Ctrl-C) and SIGHUP (a closed terminal or ssh session) into a graceful stop: no new batches, the ones in flight
/// finish, results and journal are flushed. A second signal is left to its default.
///
/// It is installed first thing, before a run exists; ``attach(_:)`` hands it the run's
/// stop, called at once if a signal already came.
final class SignalWatcher: @unchecked Sendable {
    // Set once in init and only cancelled afterwards; dispatch sources are thread-safe.
    private let sources: [any DispatchSourceSignal]
    private let state = State()

    /// What the handlers share: the first signal and what to call on it.
    final class State: Sendable {
        private let received = Mutex<Int32?>(nil)
        private let stop = Mutex<(@Sendable () -> Void)?>(nil)

        /// Records `number` if it is the first; true when it was.
        func record(_ number: Int32) -> Bool {
            received.withLock { r in
                guard r == nil else { return false }
                r = number
                return true
            }
        }

        var number: Int32? { received.withLock { $0 } }

        func attach(_ action: @escaping @Sendable () -> Void) {
            stop.withLock { $0 = action }
            if number != nil { action() }
        }

        func fire() { stop.withLock { $0 }?() }
    }

    init(log: Log) {
        let state = self.state
        sources = [SIGUSR1, SIGTERM, SIGINT, SIGHUP].map { number in
            signal(number, SIG_IGN)  // delivered to the source below instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                guard state.record(number) else { return }
                log.warning(
                    "Received \(SignalWatcher.name(number)): stopping after the batches in flight; results and journal are kept, "
                        + "and the run resumes from them (resume=true, automatic under a SLURM requeue); "
                        + "a second signal ends it at once, abandoning the batches on the devices (their tiles are done again on resume)")
                signal(number, SIG_DFL)
                state.fire()
            }
            source.resume()
            return source
        }
    }

    func attach(_ stop: @escaping @Sendable () -> Void) { state.attach(stop) }

    /// The first signal received, if any.
    var signalReceived: Int32? { state.number }

    func cancel() { for source in sources { source.cancel() } }

    static func name(_ number: Int32) -> String {
        switch number {
        case SIGUSR1: "SIGUSR1"
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        default: "signal \(number)"
        }
    }
}
