import Foundation
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

    /// - Parameter metricsPath: where to write the CSV, or nil to keep records in memory only.
    public init(metricsPath: String?) throws {
        var csv: FileHandle?
        if let metricsPath {
            guard FileManager.default.createFile(atPath: metricsPath, contents: Data((BatchRecord.csvHeader + "\n").utf8))
            else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: metricsPath]) }
            csv = try FileHandle(forWritingTo: URL(fileURLWithPath: metricsPath))
            try csv?.seekToEnd()
        }
        state = Mutex(State(csv: csv))
    }

    public func record(_ record: BatchRecord) {
        state.withLock { s in
            s.records.append(record)
            try? s.csv?.write(contentsOf: Data((record.csvRow + "\n").utf8))
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
