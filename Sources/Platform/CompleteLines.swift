import Foundation

/// Files written a line at a time (journals, results parts) end on a whole line after
/// any failure: a crash or a full disk may leave half a line, and the next append must
/// not continue it ("4,0,0,40" + "5,..." would read as one row of tile 4).
public enum CompleteLines {
    /// Cuts the file open for reading and writing in `handle` back to just after its last
    /// newline, leaving the handle at its end. Returns the bytes cut.
    @discardableResult
    public static func repair(_ handle: FileHandle) throws -> Int {
        let size = try handle.seekToEnd()
        guard size > 0 else { return 0 }
        // Read back from the end in blocks until a newline is found (or the start).
        var end = size
        let block: UInt64 = 1 << 16
        while end > 0 {
            let start = end > block ? end - block : 0
            try handle.seek(toOffset: start)
            let data = try handle.read(upToCount: Int(end - start)) ?? Data()
            if let newline = data.lastIndex(of: UInt8(ascii: "\n")) {
                let keep = start + UInt64(newline - data.startIndex) + 1
                guard keep < size else {
                    try handle.seekToEnd()
                    return 0
                }
                try handle.truncate(atOffset: keep)
                try handle.seekToEnd()
                return Int(size - keep)
            }
            end = start
        }
        try handle.truncate(atOffset: 0)
        try handle.seekToEnd()
        return Int(size)
    }
}
