import Foundation
import Synchronization

/// A results file written as batches finish: created with its header, or continued
/// (a resumed run), appended to by any device thread, never held in memory.
public final class ResultsFile: Sendable {
    public let path: String
    private let handle: Mutex<FileHandle?>

    public init(path: String, header: String, append: Bool) throws {
        self.path = path
        let continuing = append && FileManager.default.fileExists(atPath: path)
        guard continuing || FileManager.default.createFile(atPath: path, contents: Data((header + "\n").utf8)),
            let file = FileHandle(forWritingAtPath: path)
        else { throw SinkError.cannotCreate(path: path) }
        try file.seekToEnd()
        handle = Mutex(file)
    }

    public func append(_ text: String) throws {
        try handle.withLock { file in
            guard let file else { throw SinkError.closed(path: path) }
            do { try file.write(contentsOf: Data(text.utf8)) } catch {
                throw SinkError.writeFailed(path: path, reason: error.localizedDescription)
            }
        }
    }

    public func close() throws {
        try handle.withLock { file in
            try file?.close()
            file = nil
        }
    }
}

public enum SinkError: Error, CustomStringConvertible {
    case cannotCreate(path: String)
    case closed(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path): "output=\(path): cannot create the file (does its folder exist, is it writable?)"
        case .closed(let path): "output \(path) was written after it was closed"
        case .writeFailed(let path, let reason): "writing results to \(path) failed: \(reason)"
        }
    }
}
