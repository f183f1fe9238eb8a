/// Text from files (label names in a weights folder's config.json, paths) made safe to
/// print and to put in the report: control characters shown as escapes, so a name cannot
/// split a log line or drive the terminal, and lengths bounded, so a 10 MB name makes
/// neither a 10 MB line nor a 10 MB report.
enum DisplayText {
    /// `text` with control characters escaped (C0 but tab and newline, DEL, C1) and cut to
    /// `limit` characters with an ellipsis. `keepingNewlines` for whole messages.
    static func inert(_ text: String, limit: Int = 64, keepingNewlines: Bool = false) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                out += "…"
                break
            }
            let v = scalar.value
            let kept = v == 0x09 || (keepingNewlines && (v == 0x0A || v == 0x0D))
            if (v < 0x20 || (0x7F...0x9F).contains(v)) && !kept {
                out += v == 0x0A ? "\\n" : v == 0x0D ? "\\r" : v == 0x1B ? "\\e" : "\\u{\(String(v, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }

    /// A list of names for a log line: each ``inert(_:limit:keepingNewlines:)``, at most
    /// `limit` of them, then how many more.
    static func names(_ names: [String], limit: Int = 20) -> String {
        let shown = names.prefix(limit).map { inert($0) }.joined(separator: ", ")
        return names.count > limit ? "\(shown), … (\(names.count - limit) more)" : shown
    }
}
