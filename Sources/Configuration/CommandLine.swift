/// What the command line asks for, Hydra style:
/// `mgpr [--config FILE.yaml] [--cfg job] [--help] key=value ...`.
public struct Invocation: Sendable {
    public enum Action: Sendable, Equatable {
        case run
        /// `--cfg job`: print the resolved configuration as YAML and exit.
        case printConfig
        case help
        case version
    }

    public var action: Action
    public var config: RunConfig

    /// Parses `arguments` (without the program name): the file first, then overrides,
    /// whatever order they were written in, as Hydra applies them.
    public init(arguments: [String]) throws(ConfigError) {
        var action = Action.run
        var files: [String] = []
        var overrides: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            func next(_ expected: String) throws(ConfigError) -> String {
                i += 1
                guard i < arguments.count else { throw .missingArgument(option: argument, expected: expected) }
                return arguments[i]
            }
            switch argument {
            case "-h", "--help": action = .help
            case "--version": action = .version
            case "--config", "--config-file", "-cf": files.append(try next("a YAML file"))
            case "--cfg", "-c":
                let what = try next("'job'")
                guard what == "job" || what == "all" else {
                    throw .invalidValue(key: "--cfg", value: what, reason: "valid values are job, all")
                }
                action = .printConfig
            default:
                if argument.hasPrefix("--config=") {
                    files.append(String(argument.dropFirst("--config=".count)))
                } else if argument.contains("=") && !argument.hasPrefix("-") {
                    overrides.append(argument)
                } else {
                    throw .malformedArgument(argument)
                }
            }
            i += 1
        }
        var settings = Settings()
        for file in files { try settings.apply(yamlFile: file) }
        for override in overrides { try settings.apply(override: override) }
        self.action = action
        self.config = try RunConfig(settings)
    }
}

/// The text of `--help`: usage, the subcommands and exit codes where given, then the
/// keys this command reads, each with its values, default and meaning.
public func helpText(
    program: String, summary: String, keys: [ConfigKey] = ConfigSchema.keys, usage: String? = nil,
    sections: [String] = []
) -> String {
    var lines = [
        "\(program): \(summary)",
        "",
        "USAGE: \(usage ?? "\(program) [--config FILE.yaml] [--cfg job] [key=value ...]")",
        "",
        "  --config FILE   read settings from a YAML file (key: value lines); key=value overrides it",
        "  --cfg job       print the resolved configuration as YAML and exit",
        "  --help          show this help",
        "  --version       print the version and exit",
        "",
    ]
    for section in sections { lines += section.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [""] }
    lines.append("KEYS (default in brackets):")
    for key in keys {
        let aliases = key.aliases.isEmpty ? "" : " (alias\(key.aliases.count == 1 ? "" : "es"): \(key.aliases.joined(separator: ", ")))"
        lines.append("  \(key.name)=\(key.valueHint)\(aliases)  [\(key.defaultValue.yaml)]")
        lines.append("      \(key.help)")
    }
    return lines.joined(separator: "\n") + "\n"
}
