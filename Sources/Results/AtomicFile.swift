import Foundation
import Platform

/// Files written whole: through a temporary file renamed into place, so readers never
/// see half of one and a failure leaves the earlier file (or none).
public enum AtomicFile {
    public static func write(_ text: String, to output: String) throws(ResultsError) {
        let temporary = output + ".partial"
        do {
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)  // half a file helps nobody, and takes space
            throw .writeFailed(path: output, reason: SystemError.reason(error))
        }
        guard rename(temporary, output) == 0 else {
            throw .writeFailed(path: output, reason: String(cString: strerror(errno)))
        }
    }
}
