import Foundation
import Platform

/// A model's parameters by their PyTorch names (`conv1.weight`, `layer1.0.bn1.running_mean`, ...).
public struct WeightStore: Sendable {
    public let path: String
    public private(set) var tensors: [String: HostTensor]

    public init(path: String, tensors: [String: HostTensor]) {
        self.path = path
        self.tensors = tensors
    }

    /// Loads `.safetensors` or a torch `.pth`/`.pt` (zip) file, told apart by content, or
    /// a Hugging Face model folder's `model.safetensors`. A state_dict saved from a
    /// wrapper's `model` attribute (DeepForest's and many Lightning modules') has every key
    /// under `model.`: the prefix is dropped, as DeepForest drops it on load.
    public init(contentsOf path: String) throws(WeightsError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: path) }
        // Reading a FIFO waits for a writer forever, deaf to signals.
        if let kind = FileKind.special(path) { throw .notAFile(path: path, kind: kind) }
        if isDirectory.boolValue {
            let file = (path as NSString).appendingPathComponent("model.safetensors")
            guard FileManager.default.fileExists(atPath: file) else {
                throw .malformed(path: path, reason: "a folder without model.safetensors; a Hugging Face model folder holds config.json and model.safetensors")
            }
            try self.init(contentsOf: file)
            return
        }
        self.init(path: path, tensors: try Self.read(path))
        let prefix = "model."
        if !tensors.isEmpty, tensors.keys.allSatisfy({ $0.hasPrefix(prefix) }) {
            rename { String($0.dropFirst(prefix.count)) }
        }
    }

    /// The tensors of one weights file, by its content.
    private static func read(_ path: String) throws(WeightsError) -> [String: HostTensor] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .malformed(path: path, reason: "cannot be opened")
        }
        let magic = [UInt8]((try? handle.read(upToCount: 4)) ?? Data())
        try? handle.close()
        if magic.starts(with: [0x50, 0x4B]) {  // "PK": a zip, as torch.save writes since 1.6
            return try PyTorchCheckpoint.load(path)
        } else if path.hasSuffix(".safetensors") {
            return try SafeTensors.load(path)
        } else if magic.first == 0x80 {  // a bare pickle: torch's legacy format
            throw .malformed(path: path, reason: "legacy (pre-1.6) torch format; re-save it with a current torch.save")
        } else {
            throw .unsupportedFormat(path: path)
        }
    }

    /// Checks the store holds exactly `expected` (name -> shape): nothing missing, nothing
    /// extra, every shape right. Keys matching `ignored` (e.g. BatchNorm's
    /// `num_batches_tracked`) may be present or not.
    public func validate(expected: [String: [Int]], ignored: (String) -> Bool = { _ in false }) throws(WeightsError) {
        for name in expected.keys.sorted() {
            guard let tensor = tensors[name] else { throw .missingKey(path: path, key: name) }
            let shape = expected[name]!
            guard tensor.shape == shape else {
                throw .shapeMismatch(path: path, key: name, expected: shape, found: tensor.shape)
            }
        }
        for name in tensors.keys.sorted() where expected[name] == nil && !ignored(name) {
            throw .unexpectedKey(path: path, key: name)
        }
    }

    public subscript(name: String) -> HostTensor? { tensors[name] }

    /// Renames keys (older checkpoints' names to current ones), as torchvision does when loading.
    public mutating func rename(_ transform: (String) -> String) {
        tensors = Dictionary(tensors.map { (transform($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}
