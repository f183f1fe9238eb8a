/// One setting: its name (and the seed's aliases), what values it takes, its default
/// and what it means. ``ConfigSchema/keys`` lists them all; `--help` prints them.
public struct ConfigKey: Sendable {
    public enum Kind: Sendable {
        case integer(min: Int)
        case number(min: Double)
        case boolean
        case text
        /// A path or name that may also be null.
        case optionalText
        /// One of a fixed set of words (numbers such as precision=32 are taken as words).
        case choice([String])
        /// A choice that may be null.
        case optionalChoice([String])
        case integerList(min: Int)
        case numberPair
        /// A number in [0, 1), or null.
        case optionalFraction
        /// Names, as a list (`[Tree, Snag]`) or one name; or null.
        case optionalNameList
        /// Numbers above `above`, as a list (`[0.485, 0.456, 0.406]`) or one number; or null.
        case optionalNumberList(above: Double)
    }

    public let name: String
    public let aliases: [String]
    public let kind: Kind
    public let defaultValue: ConfigValue
    public let help: String

    public init(_ name: String, aliases: [String] = [], _ kind: Kind, _ defaultValue: ConfigValue, _ help: String) {
        (self.name, self.aliases, self.kind, self.defaultValue, self.help) = (name, aliases, kind, defaultValue, help)
    }

    /// Checks `value` against this key's kind, returning it in canonical form.
    public func validate(_ value: ConfigValue) throws(ConfigError) -> ConfigValue {
        let shown = value.yaml
        switch (kind, value) {
        case (.integer(let min), .int(let i)):
            guard i >= min else { throw .invalidValue(key: name, value: shown, reason: "must be \(Self.atLeast(min))") }
            return value
        case (.integer, .double(let d)) where name == "overlap" && d > 0 && d < 1:
            // DeepForest's patch_overlap is a fraction: say which key takes one.
            throw .wrongType(key: name, value: shown, expected: "pixels (an integer); for a fraction of tile_size, as DeepForest's, give patch_overlap=\(shown)")
        case (.integer(let min), _):
            throw .wrongType(key: name, value: shown, expected: "an integer \(Self.atLeast(min))")
        case (.number, .int(let i)):
            return try validate(.double(Double(i)))
        case (.number(let min), .double(let d)):
            guard d >= min, d.isFinite else {
                throw .invalidValue(key: name, value: shown, reason: "must be a finite number >= \(min)")
            }
            return value
        case (.number(let min), _):
            throw .wrongType(key: name, value: shown, expected: "a number >= \(min)")
        case (.boolean, .bool):
            return value
        case (.boolean, _):
            throw .wrongType(key: name, value: shown, expected: "true or false")
        case (.text, .string), (.optionalText, .string), (.optionalText, .null):
            return value
        case (.text, .int), (.text, .double), (.optionalText, .int), (.optionalText, .double):
            return .string(shown)
        case (.text, _), (.optionalText, _):
            throw .wrongType(key: name, value: shown, expected: "a path or name")
        case (.optionalChoice, .null):
            return value
        case (.choice(let options), _), (.optionalChoice(let options), _):
            let word: String
            switch value {
            case .string(let s): word = s
            case .int, .double: word = shown
            case .bool(let b) where options.contains("true"): word = b ? "true" : "false"
            default: throw .wrongType(key: name, value: shown, expected: "one of \(options.joined(separator: ", "))")
            }
            guard options.contains(word) else {
                throw .invalidValue(key: name, value: shown, reason: "valid values are \(options.joined(separator: ", "))")
            }
            return .string(word)
        case (.integerList(let min), .list(let items)):
            guard !items.isEmpty else { throw .invalidValue(key: name, value: shown, reason: "must not be empty") }
            for item in items {
                guard case .int(let i) = item else {
                    throw .wrongType(key: name, value: shown, expected: "a list of integers, e.g. [1,2,3]")
                }
                guard i >= min else {
                    throw .invalidValue(key: name, value: shown, reason: "every entry must be \(Self.atLeast(min))")
                }
            }
            return value
        case (.integerList, .int):
            return try validate(.list([value]))
        case (.integerList, _):
            throw .wrongType(key: name, value: shown, expected: "a list of integers, e.g. [1,2,3]")
        case (.numberPair, .list(let items)) where items.count == 2:
            return .list(try items.map { item throws(ConfigError) -> ConfigValue in
                switch item {
                case .int(let i): return .double(Double(i))
                case .double: return item
                default: throw .wrongType(key: name, value: shown, expected: "two numbers, e.g. [400000, 3300000]")
                }
            })
        case (.numberPair, _):
            throw .wrongType(key: name, value: shown, expected: "two numbers, e.g. [400000, 3300000]")
        case (.optionalFraction, .null):
            return value
        case (.optionalFraction, .int(let i)):
            return try validate(.double(Double(i)))
        case (.optionalFraction, .double(let d)):
            guard d >= 0, d < 1 else { throw .invalidValue(key: name, value: shown, reason: "must be a fraction in [0, 1), e.g. 0.05") }
            return value
        case (.optionalFraction, _):
            throw .wrongType(key: name, value: shown, expected: "a fraction in [0, 1), e.g. 0.05")
        case (.optionalNameList, .null):
            return value
        case (.optionalNameList, .string), (.optionalNameList, .int), (.optionalNameList, .double):
            return try validate(.list([value]))
        case (.optionalNameList, .list(let items)):
            let names = items.compactMap { item -> String? in
                switch item {
                case .string(let s): s
                case .int, .double: item.yaml
                default: nil
                }
            }
            guard !names.isEmpty, names.count == items.count, names.allSatisfy({ !$0.isEmpty }) else {
                throw .wrongType(key: name, value: shown, expected: "a list of names, e.g. [Tree, Snag]")
            }
            guard Set(names).count == names.count else { throw .invalidValue(key: name, value: shown, reason: "names a class twice") }
            return .list(names.map { .string($0) })
        case (.optionalNameList, _):
            throw .wrongType(key: name, value: shown, expected: "a list of names, e.g. [Tree, Snag]")
        case (.optionalNumberList, .null):
            return value
        case (.optionalNumberList, .int), (.optionalNumberList, .double):
            return try validate(.list([value]))
        case (.optionalNumberList(let above), .list(let items)):
            let numbers = items.compactMap { item -> Double? in
                switch item {
                case .int(let i): Double(i)
                case .double(let d): d
                default: nil
                }
            }
            guard !numbers.isEmpty, numbers.count == items.count else {
                throw .wrongType(key: name, value: shown, expected: "a list of numbers, one per band, e.g. [0.485, 0.456, 0.406]")
            }
            guard numbers.allSatisfy({ $0 > above && $0.isFinite }) else {
                throw .invalidValue(key: name, value: shown, reason: "every entry must be above \(above == -.infinity ? "-inf" : "\(above)")")
            }
            return .list(numbers.map { .double($0) })
        case (.optionalNumberList, _):
            throw .wrongType(key: name, value: shown, expected: "a list of numbers, one per band, e.g. [0.485, 0.456, 0.406]")
        }
    }

    /// What `--help` shows as the kind of value.
    public var valueHint: String {
        switch kind {
        case .integer: "INT"
        case .number: "FLOAT"
        case .boolean: "BOOL"
        case .text: "TEXT"
        case .optionalText: "TEXT|null"
        case .choice(let o): o.joined(separator: "|")
        case .optionalChoice(let o): (o + ["null"]).joined(separator: "|")
        case .integerList: "[INT,...]"
        case .numberPair: "[X,Y]"
        case .optionalFraction: "FLOAT|null"
        case .optionalNameList: "[NAME,...]|null"
        case .optionalNumberList: "[FLOAT,...]|null"
        }
    }

    private static func atLeast(_ min: Int) -> String { min == 1 ? "> 0" : ">= \(min)" }
}
