import Foundation
import Raster
import Tiling

/// Paths, temporary folders and child processes for the tests.
public enum TestSupport {
    /// The package root, found from this file's place in it.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A real NEON orthophoto crop (400x400, RGB Byte, UTM 17N, nodata 255), fetched by
    /// scripts/fixtures.sh from the PyPI package deepforest.
    public static var neonCrop: String {
        get throws {
            let path = packageRoot.appendingPathComponent(".fixtures/OSBS_029.tif").path
            guard FileManager.default.fileExists(atPath: path) else {
                throw FixtureMissing(path: path)
            }
            return path
        }
    }

    public struct FixtureMissing: Error, CustomStringConvertible {
        public let path: String
        public init(path: String) { self.path = path }
        public var description: String { "\(path) is missing: run scripts/test.sh (it fetches the NEON crop)" }
    }

    /// A new empty folder, removed by the operating system's temp cleaning, not by us,
    /// so a failing test leaves its files to look at.
    public static func temporaryDirectory(_ label: String = #function) throws -> URL {
        let name = label.filter { $0.isLetter || $0.isNumber }.prefix(40)
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mgpr-tests-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes a generated test image (the same code as mgpr-test-image).
    @discardableResult
    public static func makeTestImage(
        in directory: URL, size: Int, tileSize: Int = 256, seed: UInt64 = 42, name: String = "test.tif"
    ) throws -> String {
        let path = directory.appendingPathComponent(name).path
        let georeference = Georeference(
            transform: GeoTransform(originX: 400_000, originY: 3_300_000, pixelSize: 0.1),
            crsWKT: SpatialReference.wkt(fromUserInput: "EPSG:32617"))
        try TestImage(size: size, tileSize: tileSize, seed: seed, georeference: georeference).write(to: path)
        return path
    }

    public struct ProcessResult: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs a program to its end and returns what it printed.
    public static func run(
        _ executable: String, _ arguments: [String], in directory: URL? = nil,
        environment: [String: String]? = nil
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read stderr on another thread while this one reads stdout, so a chatty child
        // cannot block on a full pipe.
        let errReader = PipeReader(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errReader.wait(), as: UTF8.self))
    }

    /// A built product of this package (mgpr, mgpr-test-image), beside the test bundle.
    public static func product(_ name: String) -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            packageRoot.appendingPathComponent(".build/debug"),
        ]
        for directory in candidates {
            let path = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/\(name)").path
    }

    /// Debian's Python, which has rasterio and (later) torch; not a virtualenv's.
    public static let systemPython = "/usr/bin/python3"
}

/// Reads a pipe to its end on a thread of its own.
final class PipeReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()  // written by the reader thread before `done` is signalled

    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
