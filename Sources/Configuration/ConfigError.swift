/// A configuration the run cannot start with; each case names what to change.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case unknownKey(String, suggestion: String?)
    case wrongType(key: String, value: String, expected: String)
    case invalidValue(key: String, value: String, reason: String)
    case malformedArgument(String)
    case missingArgument(option: String, expected: String)
    case configFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .unknownKey(let key, let suggestion):
            "unknown key '\(key)'"
                + (suggestion.map { "; did you mean '\($0)'?" } ?? "; run mgpr --help to list every key")
        case .wrongType(let key, let value, let expected):
            "\(key)=\(value): expected \(expected)"
        case .invalidValue(let key, let value, let reason):
            "\(key)=\(value): \(reason)"
        case .malformedArgument(let argument):
            "unexpected argument '\(argument)': settings are given as key=value (e.g. batch_size=8); see mgpr --help"
        case .missingArgument(let option, let expected):
            "\(option) needs \(expected)"
        case .configFile(let path, let reason):
            "config file \(path): \(reason)"
        }
    }
}
