import Dispatch
import Foundation
import Synchronization

/// Turns SIGUSR1 (SLURM's warning before the time limit), SIGTERM (preemption, requeue,
/// scancel) and SIGINT (Ctrl-C) into a graceful stop: no new batches, the ones in flight
/// finish, results and journal are flushed. A second signal is left to its default.
final class SignalWatcher: @unchecked Sendable {
    // Set once in init and only cancelled afterwards; the sources are thread-safe.
    private let sources: [any DispatchSourceSignal]
    private let received = FirstSignal()

    /// The first signal number, kept by reference so the handlers can share it.
    final class FirstSignal: Sendable {
        private let value = Mutex<Int32?>(nil)
        /// Records `number` if it is the first; true when it was.
        func record(_ number: Int32) -> Bool {
            value.withLock { v in
                guard v == nil else { return false }
                v = number
                return true
            }
        }
        var number: Int32? { value.withLock { $0 } }
    }

    init(log: Log, stop: @escaping @Sendable () -> Void) {
        var sources: [any DispatchSourceSignal] = []
        let received = self.received
        for number in [SIGUSR1, SIGTERM, SIGINT] {
            signal(number, SIG_IGN)  // delivered to the source below instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                guard received.record(number) else { return }
                log.warning(
                    "Received \(Self.name(number)): stopping after the batches in flight; results and journal are kept, "
                        + "and the run resumes from them (resume=true, automatic under a SLURM requeue)")
                signal(number, SIG_DFL)
                stop()
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// The first signal received, if any.
    var signalReceived: Int32? { received.number }

    func cancel() { for source in sources { source.cancel() } }

    static func name(_ number: Int32) -> String {
        switch number {
        case SIGUSR1: "SIGUSR1"
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        default: "signal \(number)"
        }
    }
}
