import Foundation

/// The files of a run directory (journals, results parts, statuses, metrics, the work
/// record), opened only when they are regular files and never through a symbolic link:
/// a link planted where a part belongs would send a run's appends into whatever it
/// names, truncating it, and a FIFO would block the run forever.
public enum RunFile {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case link(path: String)
        case notAFile(path: String, kind: String)
        case system(path: String, reason: String)

        public var description: String {
            switch self {
            case .link(let path):
                "\(path) is a symbolic link: mgpr reads and writes its run files only in place, never through a link; "
                    + "put the file itself there (or delete the link and rerun with resume=true)"
            case .notAFile(let path, let kind): "\(path) is \(kind), not a file mgpr wrote; remove it and rerun with resume=true"
            case .system(let path, let reason): "cannot open \(path): \(reason)"
            }
        }

        public var path: String {
            switch self {
            case .link(let path), .notAFile(let path, _), .system(let path, _): path
            }
        }
    }

    /// An open descriptor for `path` (O_NOFOLLOW and O_CLOEXEC added to `flags`), or nil
    /// when it does not exist and `flags` do not create it.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(Failure) -> Int32? {
        try checkKind(path)
        let fd = Foundation.open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT && flags & O_CREAT == 0 { return nil }
            throw code == ELOOP ? .link(path: path) : .system(path: path, reason: String(cString: strerror(code)))
        }
        return fd
    }

    /// The whole of `path`, or nil when it does not exist.
    public static func contents(_ path: String) throws(Failure) -> Data? {
        guard let fd = try open(path, O_RDONLY) else { return nil }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do { return try handle.readToEnd() ?? Data() } catch {
            throw .system(path: path, reason: SystemError.reason(error))
        }
    }

    /// Replaces `path` whole: written beside it under a temporary name, then renamed into
    /// place, so a reader never sees half of one and a failure leaves the earlier file.
    public static func replace(_ path: String, with data: Data) throws(Failure) {
        let temporary = path + ".tmp.\(getpid())"
        guard let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC) else { return }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: data)
            try handle.close()
        } catch {
            unlink(temporary)  // half a file helps nobody, and takes space
            throw .system(path: path, reason: SystemError.reason(error))
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .system(path: path, reason: reason)
        }
    }

    /// Refuses a link or anything but a regular file at `path`, before it is opened: a
    /// FIFO would block the open itself.
    private static func checkKind(_ path: String) throws(Failure) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFLNK: throw .link(path: path)
        case S_IFDIR: throw .notAFile(path: path, kind: "a folder")
        default: throw .notAFile(path: path, kind: FileKind.special(path) ?? "a special file")
        }
    }
}
