import Foundation

/// The `config.json` of a Hugging Face model folder, as DeepForest saves its models
/// (`weecology/deepforest-tree`: `{"num_classes": 1, "nms_thresh": 0.05,
/// "score_thresh": 0.1, "label_dict": {"Tree": 0}}`): the thresholds the model was
/// published with and the names of its classes.
public struct ModelFolderConfig: Sendable, Equatable {
    public var scoreThreshold: Double?
    public var nmsThreshold: Double?
    /// Class names by label index (a name for every index up to the largest given).
    public var labelNames: [String]?

    /// The folder's config, nil when `weights` is not a folder or has no config.json.
    /// Only score_thresh, nms_thresh and label_dict are read (num_classes and DeepForest's
    /// own keys are left to the weights), each checked for its type and named when wrong.
    public static func read(weights: String) throws(ConfigError) -> ModelFolderConfig? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: weights, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        let path = (weights as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        func refuse(_ reason: String) -> ConfigError { .configFile(path: path, reason: reason) }
        guard let data = FileManager.default.contents(atPath: path) else { throw refuse("cannot be read") }
        guard let file = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw refuse("is not a JSON object") }

        var config = ModelFolderConfig()
        for key in ["score_thresh", "nms_thresh"] {
            guard let value = file[key], !(value is NSNull) else { continue }
            guard let number = Self.number(value) else { throw refuse("\(key) is \(Self.text(value)), not a number") }
            guard number >= 0 else { throw refuse("\(key) is \(Self.text(value)), not a number >= 0") }
            if key == "score_thresh" { config.scoreThreshold = number } else { config.nmsThreshold = number }
        }
        guard let labels = file["label_dict"], !(labels is NSNull) else { return config }
        guard let dictionary = labels as? [String: Any] else { throw refuse("label_dict is \(Self.text(labels)), not an object of class names") }
        var names: [Int: String] = [:]
        for (name, value) in dictionary.sorted(by: { $0.key < $1.key }) {
            guard let number = Self.number(value), number == number.rounded(), (0..<100_000).contains(number) else {
                throw refuse("label_dict['\(name)'] is \(Self.text(value)), not a class index (an integer from 0 to 99999)")
            }
            let index = Int(number)
            if let other = names[index] { throw refuse("label_dict gives class \(index) two names, '\(other)' and '\(name)'") }
            names[index] = name
        }
        if let top = names.keys.max() { config.labelNames = (0...top).map { names[$0] ?? String($0) } }
        return config
    }

    /// A JSON number's value; nil for anything else (JSON's true and false included).
    private static func number(_ value: Any) -> Double? {
        guard let number = value as? NSNumber, !isBoolean(number) else { return nil }
        return number.doubleValue
    }

    /// JSONSerialization gives true and false as NSNumbers whose type is C's char.
    private static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    /// A JSON value as the file has it, for an error line.
    private static func text(_ value: Any) -> String {
        if let string = value as? String { return "\"\(string.prefix(40))\"" }
        if value is [Any] { return "a list" }
        if value is [String: Any] { return "an object" }
        if let number = value as? NSNumber { return isBoolean(number) ? (number.boolValue ? "true" : "false") : "\(number)" }
        return "null"
    }
}
