/// Path arithmetic on strings. Foundation's `NSString.deletingLastPathComponent` traps on
/// "a", "." and "a/" (swift-corelibs-foundation with Swift 6.3), which `run_dir=.` or
/// `output=x` would reach.
public enum PathText {
    /// The folder part of `path`: "a/b" → "a", "/a" → "/", "a" → "", "a/" → "", "/" → "/".
    public static func parent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        var head = trimmed[..<slash]
        while head.hasSuffix("/") { head = head.dropLast() }
        return head.isEmpty ? "/" : String(head)
    }
}
