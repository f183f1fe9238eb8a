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

    /// `path` from the root: a relative file path joined to `directory` (the working
    /// directory), so it still names the same file for a command run from elsewhere.
    /// Absolute paths, GDAL's virtual ones ("/vsicurl/...") and URLs are as given.
    public static func absolute(_ path: String, from directory: String) -> String {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.contains("://") else { return path }
        var relative = Substring(path)
        while relative.hasPrefix("./") { relative = relative.dropFirst(2) }
        if relative == "." { return directory }
        return directory.hasSuffix("/") ? directory + relative : directory + "/" + relative
    }
}
