import Foundation
import Synchronization

/// The seed's progress line, in tqdm's format, counting tiles (what users measure runs
/// in): `Predicting DataLoader 0:  42%|####      | 175/417 [00:41<00:57, 4.23tiles/s]`,
/// with no estimate (`?`) until the first batch is done. When the total is not known in
/// advance (ranks claiming their tiles as they go), tqdm's line without one:
/// `Predicting DataLoader 0: 175tiles [00:41, 4.23tiles/s]`.
///
/// On a terminal it redraws one line (at most ten times a second, and every second
/// while a long batch runs, so the clock moves); otherwise (SLURM logs, pipes) it prints
/// a plain line every `logInterval` batches and at the end, so a log file stays
/// readable, and also every `logSeconds` in which no line was printed, so slow batches
/// still show that the run is alive and when it will end. With no tiles to do (a
/// resume with nothing left) it shows nothing.
public final class ProgressBar: Sendable {
    private struct State {
        var done = 0
        var batches = 0
        var lastDraw = 0.0
        var timer = TimerState.inactive
    }

    /// libdispatch traps when an inactive source is released: it is activated before it
    /// goes, whether or not it ever ticked.
    private enum TimerState { case inactive, ticking, cancelled }

    /// Nil when not known in advance.
    private let total: Int?
    private let label: String
    private let interactive: Bool
    private let logInterval: Int
    private let logSeconds: Double
    /// Fires the timed lines. DispatchSource's calls are thread-safe; it is resumed once
    /// and cancelled once, as `State.timer` records.
    private nonisolated(unsafe) let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
    private let unicode: Bool
    private let start = now()
    private let state = Mutex(State())
    private let write: @Sendable (String) -> Void

    public init(
        total: Int?, label: String = "Predicting DataLoader 0", interactive: Bool, logInterval: Int,
        logSeconds: Double = 60, unicode: Bool? = nil, write: @escaping @Sendable (String) -> Void
    ) {
        self.logSeconds = logSeconds
        self.total = total
        self.label = label
        self.interactive = interactive
        self.logInterval = max(1, logInterval)
        let locale = ProcessInfo.processInfo.environment["LC_ALL"] ?? ProcessInfo.processInfo.environment["LANG"] ?? ""
        // Block characters as tqdm draws them where the terminal speaks UTF-8, '#' elsewhere.
        self.unicode = unicode ?? (locale.uppercased().contains("UTF-8") || locale.uppercased().contains("UTF8"))
        self.write = write
    }

    /// Shows the bar at 0% and starts the timed lines.
    public func begin() {
        guard total ?? 1 > 0 else { return }
        let line: String = state.withLock { s in
            s.lastDraw = now()
            return (interactive ? "\r" : "") + render(done: 0, elapsed: 0) + (interactive ? "" : "\n")
        }
        write(line)
        guard interactive || logSeconds > 0, state.withLock({ $0.timer == .inactive }) else { return }
        let period = interactive ? 1 : min(logSeconds, 1)
        timer.schedule(deadline: .now() + period, repeating: period)
        timer.setEventHandler { [weak self] in self?.tick() }
        state.withLock { $0.timer = .ticking }
        timer.resume()
    }

    private func stopTimer() {
        let previous = state.withLock { s in
            defer { s.timer = .cancelled }
            return s.timer
        }
        if previous == .inactive { timer.resume() }
        if previous != .cancelled { timer.cancel() }
    }

    /// On a terminal, the line redrawn when a second passed without it; otherwise a plain
    /// line when `logSeconds` passed without one. Written under the lock, so a tick
    /// already under way when `finish` stops the timer cannot print after it.
    private func tick() {
        state.withLock { s in
            let t = now()
            guard s.timer == .ticking, !isLast(s.done), t - s.lastDraw >= (interactive ? 1 : logSeconds) else { return }
            s.lastDraw = t
            write(interactive ? "\r" + render(done: s.done, elapsed: t - start) : render(done: s.done, elapsed: t - start) + "\n")
        }
    }

    /// Counts one more batch done, of `tiles` tiles.
    public func advance(tiles: Int = 1) {
        let line: String? = state.withLock { s in
            s.done += tiles
            s.batches += 1
            let t = now()
            let last = isLast(s.done)
            if interactive {
                guard last || t - s.lastDraw >= 0.1 else { return nil }
                s.lastDraw = t
                return "\r" + render(done: s.done, elapsed: t - start) + (last ? "\n" : "")
            }
            guard last || s.batches % logInterval == 0 else { return nil }
            s.lastDraw = t
            return render(done: s.done, elapsed: t - start) + "\n"
        }
        if let line { write(line) }
    }

    /// Stops the timed lines and ends an interrupted bar on its own line.
    public func finish() {
        stopTimer()
        let line: String? = state.withLock { s in
            guard !isLast(s.done), total ?? 1 > 0 else { return nil }
            return (interactive ? "\r" : "") + render(done: s.done, elapsed: now() - start) + "\n"
        }
        if let line { write(line) }
    }

    deinit { stopTimer() }

    /// Whether `done` tiles are all there are (never, with no total).
    private func isLast(_ done: Int) -> Bool { total.map { done >= $0 } ?? false }

    func render(done: Int, elapsed: Double) -> String {
        guard let total else {
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            return "\(label): \(done)tiles [\(Self.clock(elapsed)), \(Self.rateText(rate))]"
        }
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Self.clock(Double(total - done) / rate) : "?"
        let rateText = Self.rateText(rate)
        return String(format: "%@: %3.0f%%|%@| %d/%d [%@<%@, %@]",
            label, fraction * 100, bar(fraction), done, total, Self.clock(elapsed), remaining, rateText)
    }

    /// tqdm's rate: tiles per second, or seconds per tile below one.
    private static func rateText(_ rate: Double) -> String {
        rate == 0 ? "?tiles/s" : rate >= 1 ? String(format: "%.2ftiles/s", rate) : String(format: "%.2fs/tile", 1 / rate)
    }

    private func bar(_ fraction: Double, width: Int = 10) -> String {
        let cells = fraction * Double(width)
        let full = Int(cells)
        guard unicode else {
            return String(repeating: "#", count: full) + String(repeating: " ", count: width - full)
        }
        let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        let part = full < width ? partials[Int((cells - Double(full)) * 8)] : ""
        let used = full + (part.isEmpty ? 0 : 1)
        return String(repeating: "█", count: full) + part + String(repeating: " ", count: width - used)
    }

    /// tqdm's clock: mm:ss, or h:mm:ss from an hour on.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.down))
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%02d:%02d", s / 60, s % 60)
    }
}
