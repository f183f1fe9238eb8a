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
        let file = try Self.open(path, append: append)
        var continuing = false
        do {
            if append {
                try CompleteLines.repair(file)
                continuing = file.offsetInFile > 0
            }
        } catch let error as RunFile.Failure {
            throw error
        } catch let error as SinkError {
            throw error
        } catch {
            throw SinkError.cannotCreate(path: path, reason: SystemError.reason(error))
        }
        handle = Mutex(file)
        if !continuing { try self.append(header + "\n") }
    }

    /// A part's file opened for appending: continued when `append`, else emptied.
    static func open(_ path: String, append: Bool) throws -> FileHandle {
        do {
            guard let fd = try RunFile.open(path, O_RDWR | O_CREAT | O_APPEND | (append ? 0 : O_TRUNC)) else {
                throw SinkError.cannotCreate(path: path, reason: "it vanished as it was opened")
            }
            return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        } catch let error as RunFile.Failure {
            throw error
        } catch let error as SinkError {
            throw error
        } catch {
            throw SinkError.cannotCreate(path: path, reason: SystemError.reason(error))
        }
    }

    /// Appends `text` and syncs it to disk: the journal line that follows vouches for it.
    public func append(_ text: String) throws {
        try handle.withLock { file in
            guard let file else { throw SinkError.closed(path: path) }
            do {
                try file.write(contentsOf: Data(text.utf8))
                try file.synchronize()
            } catch {
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
