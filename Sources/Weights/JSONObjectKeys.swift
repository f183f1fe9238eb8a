/// The keys of a JSON object's top level, read from its text. JSONSerialization keeps
/// the last of two equal keys without a word; a weights header that names a tensor
/// twice is ambiguous, so it is found here and refused.
enum JSONObjectKeys {
    /// The first top-level key that appears twice (compared as written), if any.
    static func firstRepeated(in text: UnsafeRawBufferPointer) -> String? {
        var seen = Set<String>()
        var depth = 0, i = 0
        while i < text.count {
            let c = text[i]
            if c == UInt8(ascii: "\"") {
                let start = i + 1
                i += 1
                while i < text.count, text[i] != UInt8(ascii: "\"") { i += text[i] == UInt8(ascii: "\\") ? 2 : 1 }
                let literal = String(decoding: UnsafeRawBufferPointer(rebasing: text[start..<min(i, text.count)]), as: UTF8.self)
                i += 1
                var j = i
                while j < text.count, [0x20, 0x09, 0x0A, 0x0D].contains(text[j]) { j += 1 }
                if depth == 1, j < text.count, text[j] == UInt8(ascii: ":"), !seen.insert(literal).inserted { return literal }
                continue
            }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
            if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1 }
            i += 1
        }
        return nil
    }
}
