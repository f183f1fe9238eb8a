import Foundation

/// A configuration value as written on the command line or in a YAML file,
/// before it is checked against its key.
public enum ConfigValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigValue])

    /// The text of a string value, nil for any other.
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    /// Parses a command-line value the way Hydra does: `null`, `true`/`false`,
    /// integers, floats, `[a, b]` lists, quoted or bare strings.
    public init(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.count >= 2, let q = t.first, q == "\"" || q == "'", t.last == q {
            self = .string(String(t.dropFirst().dropLast()))
        } else if t.hasPrefix("["), t.hasSuffix("]") {
            let inner = t.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
            self = .list(
                inner.isEmpty ? [] : inner.split(separator: ",").map { ConfigValue(parsing: String($0)) })
        } else if ["null", "Null", "NULL", "~"].contains(t) || t.isEmpty {
            self = .null
        } else if ["true", "True"].contains(t) {
            self = .bool(true)
        } else if ["false", "False"].contains(t) {
            self = .bool(false)
        } else if let i = Int(t) {
            self = .int(i)
        } else if let d = Double(t), !t.lowercased().contains("n") {  // not "nan" / "inf(inity)"
            self = .double(d)
        } else {
            self = .string(t)
        }
    }

    /// Converts what a YAML parser produced (Int, Double, Bool, String, arrays, nil).
    init?(yaml value: Any?) {
        switch value {
        case nil, is NSNull: self = .null
        case let b as Bool: self = .bool(b)
        case let i as Int: self = .int(i)
        case let d as Double: self = .double(d)
        case let s as String: self = .string(s)
        case let a as [Any]:
            var items: [ConfigValue] = []
            for element in a {
                guard let item = ConfigValue(yaml: element) else { return nil }
                items.append(item)
            }
            self = .list(items)
        default: return nil
        }
    }

    /// The value as it appears in YAML (flow style for lists).
    public var yaml: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : String(d)
        case .string(let s): Self.needsQuotes(s) ? "'\(s.replacingOccurrences(of: "'", with: "''"))'" : s
        case .list(let items): "[" + items.map(\.yaml).joined(separator: ", ") + "]"
        }
    }

    private static func needsQuotes(_ s: String) -> Bool {
        if s.isEmpty { return true }
        if case .string = ConfigValue(parsing: s) {} else { return true }
        return s.contains(where: { ":#{}[],&*!|>'\"%@`".contains($0) }) || s.first == " " || s.last == " "
    }
}
