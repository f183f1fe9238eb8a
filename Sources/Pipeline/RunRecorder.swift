import Foundation
import Platform
import Results
import Synchronization

/// Collects one ``BatchRecord`` per batch from every device thread and streams each
/// to `metrics.csv` as it arrives, so a run that dies still leaves its metrics.
public final class RunRecorder: Sendable {
    private struct State {
        var records: [BatchRecord] = []
        var csv: FileHandle?
    }

    private let state: Mutex<State>
    /// Added to the batch numbers and times written, so a resumed attempt's rows follow
    /// its predecessors' in the same file.
    private let offset: (batches: Int, seconds: Double)

    /// - Parameters:
    ///   - metricsPath: where to write the CSV, or nil to keep records in memory only.
    ///   - continuing: the batches and seconds of earlier attempts, whose file this
    ///     continues (a resume); nil starts the file afresh.
    public init(metricsPath: String?, continuing: (batches: Int, seconds: Double)? = nil) throws {
        offset = continuing ?? (0, 0)
        var csv: FileHandle?
        if let metricsPath {
            let flags = O_RDWR | O_CREAT | O_APPEND | (continuing == nil ? O_TRUNC : 0)
            guard let fd = try RunFile.open(metricsPath, flags) else { throw RunFile.Failure.system(path: metricsPath, reason: "vanished") }
            let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            try CompleteLines.repair(file)  // a row a crash cut short would run into the next
            if file.offsetInFile == 0 { try file.write(contentsOf: Data((BatchRecord.csvHeader + "\n").utf8)) }
            csv = file
        }
        state = Mutex(State(csv: csv))
    }

    public func record(_ record: BatchRecord) {
        var written = record
        written.batch += offset.batches
        written.finishedAt += offset.seconds
        state.withLock { s in
            s.records.append(record)
            try? s.csv?.write(contentsOf: Data((written.csvRow + "\n").utf8))
        }
    }

    public var records: [BatchRecord] { state.withLock { $0.records } }

    public func close() {
        state.withLock { s in
            try? s.csv?.close()
            s.csv = nil
        }
    }
}
