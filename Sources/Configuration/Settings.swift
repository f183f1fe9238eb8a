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
        do {
            // Aliases let a few hundred bytes expand into billions of values (an "alias
            // bomb"): the composed tree shares them, so it is counted before it is built.
            if let root = try Yams.compose(yaml: text) {
                guard Self.isSmall(root) else {
                    throw ConfigError.configFile(
                        path: path, reason: "expands to more than \(Self.maxValues) values (YAML aliases?); a config is a flat list of key: value lines")
                }
                // Yams cannot build a mapping whose key is a list or a mapping (`? [a]`): it traps.
                guard !Self.hasComplexKey(root) else {
                    throw ConfigError.configFile(
                        path: path, reason: "a key that is a list or a mapping (`? [...]`); a config is a flat list of key: value lines")
                }
            }
            document = try Yams.load(yaml: text)
        } catch let error as ConfigError {
            throw error
        } catch {
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
                throw .wrongType(key: name, value: Self.shape(of: mapping[name]), expected: "a plain value or a list")
            }
            try set(name, value)
        }
    }

    static let maxValues = 10_000

    /// Whether `root` holds at most ``maxValues`` values, counting each use of an alias;
    /// the count stops as soon as it passes, so a bomb costs no more than that.
    static func isSmall(_ root: Node) -> Bool {
        var remaining = maxValues
        var stack = [root]
        while let node = stack.popLast() {
            remaining -= 1
            if remaining < 0 { return false }
            switch node {
            case .mapping(let mapping): for (key, value) in mapping { stack.append(key); stack.append(value) }
            case .sequence(let sequence): stack.append(contentsOf: sequence)
            case .scalar, .alias: break
            }
        }
        return true
    }

    /// Whether a mapping anywhere under `root` has a key that is not a plain scalar.
    static func hasComplexKey(_ root: Node) -> Bool {
        var stack = [root]
        while let node = stack.popLast() {
            switch node {
            case .mapping(let mapping):
                if mapping.keys.contains(where: { $0.scalar == nil }) { return true }
                stack.append(contentsOf: mapping.values)
            case .sequence(let sequence): stack.append(contentsOf: sequence)
            case .scalar, .alias: break
            }
        }
        return false
    }

    /// A YAML value that is no setting's, said by its shape (Swift would print a mapping
    /// as `[AnyHashable("a"): 1]`).
    static func shape(of value: Any?) -> String {
        switch value {
        case is [AnyHashable: Any]: "a mapping"
        case let list as [Any]: "a list of \(list.contains { $0 is [AnyHashable: Any] } ? "mappings" : "lists")"
        case nil: "null"
        case let value?: "\(value)"
        }
    }

    /// The resolved configuration as YAML, keys in schema order (what `--cfg job` prints).
    public var yaml: String { yaml(ConfigSchema.keys) }

    /// `keys` only, in schema order.
    public func yaml(_ keys: [ConfigKey]) -> String {
        keys.map { "\($0.name): \(self[$0.name].yaml)" }.joined(separator: "\n") + "\n"
    }
}
