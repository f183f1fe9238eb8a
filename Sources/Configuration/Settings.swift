import Foundation
import Yams

/// The merged configuration: built-in defaults <- YAML file <- key=value overrides,
/// each value checked against its key as it arrives.
public struct Settings: Sendable, Equatable {
    public private(set) var values: [String: ConfigValue]
    /// Keys given in a file or on the command line (not left at their default).
    public private(set) var explicit: Set<String> = []

    public init() {
        values = Dictionary(uniqueKeysWithValues: ConfigSchema.keys.map { ($0.name, $0.defaultValue) })
    }

    public subscript(name: String) -> ConfigValue { values[name] ?? .null }

    /// Sets `name` (or an alias of it) to `value` after checking it.
    public mutating func set(_ name: String, _ value: ConfigValue) throws(ConfigError) {
        guard let key = ConfigSchema.key(named: name) else {
            throw .unknownKey(name, suggestion: ConfigSchema.suggestion(for: name))
        }
        values[key.name] = try key.validate(value)
        explicit.insert(key.name)
    }

    /// Sets a value derived from others (not marked as given by the user).
    mutating func resolve(_ name: String, _ value: ConfigValue) { values[name] = value }

    /// Applies a `key=value` override as Hydra does (a leading `+` or `++` is accepted).
    public mutating func apply(override argument: String) throws(ConfigError) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw .malformedArgument(argument)
        }
        let name = argument[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: "+ "))
        try set(name, ConfigValue(parsing: String(argument[argument.index(after: equals)...])))
    }

    /// Applies every key of a YAML mapping file.
    public mutating func apply(yamlFile path: String) throws(ConfigError) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .configFile(path: path, reason: FileManager.default.fileExists(atPath: path)
                ? "cannot be read as UTF-8 text" : "file not found")
        }
        let document: Any?
        do { document = try Yams.load(yaml: text) } catch {
            // Yams shows the offending line and a caret below the message: keep the
            // message ("2:12: error: scanner: ...") so the error stays one line.
            let message = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw .configFile(path: path, reason: "not valid YAML at \(message.hasSuffix(":") ? String(message.dropLast()) : message)")
        }
        guard let document else { return }  // an empty file changes nothing
        guard let mapping = document as? [String: Any] else {
            throw .configFile(path: path, reason: "expected a mapping of key: value lines")
        }
        for name in mapping.keys.sorted() {
            guard let value = ConfigValue(yaml: mapping[name]) else {
                throw .wrongType(key: name, value: "\(mapping[name] ?? "null")", expected: "a plain value or a list")
            }
            try set(name, value)
        }
    }

    /// The resolved configuration as YAML, keys in schema order (what `--cfg job` prints).
    public var yaml: String {
        ConfigSchema.keys.map { "\($0.name): \(self[$0.name].yaml)" }.joined(separator: "\n") + "\n"
    }
}
