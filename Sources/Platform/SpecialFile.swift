import Foundation

/// Facts about files that Foundation does not give.
public enum FileKind {
    /// What `path` is when it is a FIFO, a socket or a device rather than a file or
    /// folder: such a path given as an input would block a read forever or stream without
    /// end. Symbolic links are followed.
    public static func special(_ path: String) -> String? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        switch status.st_mode & S_IFMT {
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return nil
        }
    }
}
