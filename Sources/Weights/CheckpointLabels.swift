import Foundation

/// The class names a PyTorch checkpoint carries: DeepForest's `.ckpt` keeps
/// `label_dict` (`{"Tree": 0}`) at its top level, and its Lightning module's
/// `hyper_parameters` (or their `config`) hold one too. Only the pickle is read.
public enum CheckpointLabels {
    /// Names by class index, or nil when the file is not a checkpoint that names its
    /// classes (a plain state_dict, safetensors, a folder, an unreadable file: the
    /// weights loader says what is wrong with those).
    public static func names(in path: String) -> [String]? {
        guard ["ckpt", "pth", "pt"].contains((path as NSString).pathExtension.lowercased()) else { return nil }
        return try? withMappedFile(path) { (bytes: UnsafeRawBufferPointer) throws(WeightsError) -> [String]? in
            let zip = try ZipArchive(bytes, path: path)
            guard let pickle = zip.entries.values.first(where: { $0.name.hasSuffix("data.pkl") }) else { return nil }
            var unpickler = Unpickler(path: path)
            let root = try unpickler.load(UnsafeRawBufferPointer(rebasing: bytes[pickle.range]))
            let hyper = entry(root, "hyper_parameters")
            for dict in [entry(root, "label_dict"), entry(hyper, "label_dict"), entry(entry(hyper, "config"), "label_dict")] {
                if let names = names(byIndex: dict) { return names }
            }
            return nil
        }
    }

    private static func entry(_ value: Unpickler.Value?, _ key: String) -> Unpickler.Value? {
        guard case .dict(let box)? = value else { return nil }
        return box.entries.first { if case .string(key) = $0.key { true } else { false } }?.value
    }

    /// `{name: index}` as a list by index: every index from 0 named exactly once.
    private static func names(byIndex value: Unpickler.Value?) -> [String]? {
        guard case .dict(let box)? = value, !box.entries.isEmpty else { return nil }
        var names = [String?](repeating: nil, count: box.entries.count)
        for (key, index) in box.entries {
            guard case .string(let name) = key, case .int(let i) = index, names.indices.contains(i), names[i] == nil else { return nil }
            names[i] = name
        }
        return names.compactMap { $0 }
    }
}
