import Foundation

/// A fingerprint of a weights file's bytes (64-bit FNV-1a over the mapped file): enough
/// to tell that a resumed run is given the same weights, at memory speed.
/// A model folder is fingerprinted by its `model.safetensors` (its config.json's
/// thresholds are keys of the run, compared on their own).
public enum WeightsDigest {
    public static func of(file path: String) throws(WeightsError) -> String {
        try withMappedFile(tensorsFile(path)) { (bytes: UnsafeRawBufferPointer) throws(WeightsError) in
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in bytes {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            let hex = String(hash, radix: 16)
            return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
        }
    }

    /// The file's size and modification time: what tells, without reading it, that a file
    /// read earlier was replaced or rewritten since (nil when it cannot be read).
    public static func stamp(of path: String) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: tensorsFile(path)),
              let size = attributes[.size] as? Int, let modified = attributes[.modificationDate] as? Date
        else { return nil }
        return "\(size) bytes, modified \(modified.timeIntervalSince1970)"
    }

    /// The file holding the tensors: `path`, or a model folder's `model.safetensors`.
    private static func tensorsFile(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? (path as NSString).appendingPathComponent("model.safetensors") : path
    }
}
