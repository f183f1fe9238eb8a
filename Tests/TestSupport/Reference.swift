import Foundation

/// Arrays recorded by the reference scripts beside the tests: inputs as float32 (what
/// mgpr is given, `.f32`), torchvision's results computed in float64 (`.f64`), so
/// mgpr's float32 is held to the exact answer, not to another float32 rounding.
public enum Reference {
    /// `cases/<case>.<name>.f64` under `directory`, or its `.f32` where the script kept
    /// float32 (inputs), as doubles.
    public static func array(_ directory: URL, case name: String, _ key: String) throws -> [Double] {
        let stem = directory.appendingPathComponent("cases/\(name).\(key)")
        let f64 = stem.appendingPathExtension("f64"), f32 = stem.appendingPathExtension("f32")
        if FileManager.default.fileExists(atPath: f64.path) {
            return try Data(contentsOf: f64).withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        }
        guard FileManager.default.fileExists(atPath: f32.path) else { throw TestSupport.FixtureMissing(path: f64.path) }
        return try Data(contentsOf: f32).withUnsafeBytes { $0.bindMemory(to: Float.self).map(Double.init) }
    }

    /// An input array as the float32 values mgpr is given.
    public static func input(_ directory: URL, case name: String, _ key: String) throws -> [Float] {
        try array(directory, case: name, key).map(Float.init)
    }
}
