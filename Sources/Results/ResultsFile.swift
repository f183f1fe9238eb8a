import Foundation
import Platform
import Synchronization

/// A results file written as batches finish: created with its header, or continued
/// (a resumed run), appended to by any device thread, never held in memory.
public final class ResultsFile: Sendable {
    public let path: String
    private let handle: Mutex<FileHandle?>

    public init(path: String, header: String, append: Bool) throws {
        self.path = path
        // A resumed part continues after its last whole row: a row cut short by a crash or
        // a full disk is dropped (its tile is not journaled, so it is done again). A part
        // left empty, its header lost too, starts afresh.
        var continuing = false
        if append, FileManager.default.fileExists(atPath: path) {
            do { try CompleteLines.repair(path) } catch {
                throw SinkError.cannotCreate(path: path, reason: SystemError.reason(error))
            }
            continuing = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int ?? 0) > 0
        }
        // open(2) rather than FileManager: its errno says why (no such folder, no space).
        let fd = open(path, O_WRONLY | O_CREAT | (continuing ? O_APPEND : O_TRUNC), 0o644)
        guard fd >= 0 else { throw SinkError.cannotCreate(path: path, reason: String(cString: strerror(errno))) }
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        handle = Mutex(file)
        if continuing { try file.seekToEnd() } else { try self.append(header + "\n") }
    }

    public func append(_ text: String) throws {
        try handle.withLock { file in
            guard let file else { throw SinkError.closed(path: path) }
            do { try file.write(contentsOf: Data(text.utf8)) } catch {
                throw SinkError.writeFailed(path: path, reason: SystemError.reason(error))
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
    case cannotCreate(path: String, reason: String)
    case closed(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let reason): "cannot create the results file \(path): \(reason)"
        case .closed(let path): "output \(path) was written after it was closed"
        case .writeFailed(let path, let reason): "writing results to \(path) failed: \(reason)"
        }
    }
}
