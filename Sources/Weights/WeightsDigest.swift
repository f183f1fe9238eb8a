import Foundation

/// A fingerprint of a weights file's bytes (64-bit FNV-1a over the mapped file): enough
/// to tell that a resumed run is given the same weights, at memory speed.
/// A model folder is fingerprinted by its `model.safetensors` (its config.json's
/// thresholds are keys of the run, compared on their own).
public enum WeightsDigest {
    public static func of(file path: String) throws(WeightsError) -> String {
        var isDirectory: ObjCBool = false
        let path = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? (path as NSString).appendingPathComponent("model.safetensors") : path
        return try withMappedFile(path) { (bytes: UnsafeRawBufferPointer) throws(WeightsError) in
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in bytes {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            let hex = String(hash, radix: 16)
            return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
        }
    }
}
