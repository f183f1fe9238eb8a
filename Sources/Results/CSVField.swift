import Foundation

/// A CSV field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a
/// comma, a quote or a line break (an image path such as `a,b "q".tif`), else as is.
public enum CSVField {
    public static func escape(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
