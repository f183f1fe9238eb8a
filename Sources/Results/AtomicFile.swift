import Foundation
import Platform

/// Files written whole: through a temporary file renamed into place, so readers never
/// see half of one and a failure leaves the earlier file (or none).
public enum AtomicFile {
    public static func write(_ text: String, to output: String) throws(ResultsError) {
        do { try RunFile.replace(output, with: Data(text.utf8)) } catch {
            switch error {
            case .system(_, let reason): throw .writeFailed(path: output, reason: reason)
            default: throw .runFile(error)
            }
        }
    }
}
