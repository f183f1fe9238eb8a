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

    /// The keys read; others (num_classes, DeepForest's own) are left to the weights.
    private struct File: Decodable {
        var score_thresh: Double?
        var nms_thresh: Double?
        var label_dict: [String: Int]?
    }

    private static func name(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map(String.init) ?? $0.stringValue }.enumerated()
            .map { $0.offset == 0 ? $0.element : "['\($0.element)']" }.joined()
    }

    /// The folder's config, nil when `weights` is not a folder or has no config.json.
    public static func read(weights: String) throws(ConfigError) -> ModelFolderConfig? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: weights, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        let path = (weights as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        func refuse(_ reason: String) -> ConfigError { .configFile(path: path, reason: reason) }
        guard let data = FileManager.default.contents(atPath: path) else { throw refuse("cannot be read") }
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else { throw refuse("is not a JSON object") }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch let DecodingError.typeMismatch(type, context) {
            throw refuse("\(Self.name(context.codingPath)) is not \(type == Double.self ? "a number" : "a class index (an integer)")")
        } catch {
            throw refuse("cannot be read: \(error)")
        }
        var config = ModelFolderConfig(scoreThreshold: file.score_thresh, nmsThreshold: file.nms_thresh)
        for (key, value) in [("score_thresh", file.score_thresh), ("nms_thresh", file.nms_thresh)] {
            if let value, !(value >= 0) { throw refuse("\(key) is \(value), not a number >= 0") }
        }
        if let labels = file.label_dict {
            var names: [Int: String] = [:]
            for (name, index) in labels.sorted(by: { $0.key < $1.key }) {
                guard (0..<100_000).contains(index) else { throw refuse("label_dict['\(name)'] is \(index), not a class index") }
                if let other = names[index] { throw refuse("label_dict gives class \(index) two names, '\(other)' and '\(name)'") }
                names[index] = name
            }
            if let top = names.keys.max() { config.labelNames = (0...top).map { names[$0] ?? String($0) } }
        }
        return config
    }
}
