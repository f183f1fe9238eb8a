import Foundation
import Raster
import Testing
import TestSupport

/// A Cloud-Optimised GeoTIFF read over HTTP (`image_path=http://...`) from a local
/// server on 127.0.0.1 that honours Range requests: the results equal the local
/// file's, read with ranged requests (never the whole file at once); a URL that fails
/// is one error line with the HTTP status.
@Suite("mgpr over HTTP", .serialized)
struct RemoteRasterTests {
    let mgpr = TestSupport.product("mgpr")

    /// A running range server over `root`, its port and its request log.
    final class Server {
        let process = Process()
        let port: Int
        let stats: URL

        init(root: URL) throws {
            let script = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/support/range_server.py").path
            let portFile = root.appendingPathComponent("port")
            stats = root.appendingPathComponent("requests.log")
            process.executableURL = URL(fileURLWithPath: TestSupport.systemPython)
            process.arguments = [script, root.path, portFile.path, stats.path]
            try process.run()
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: portFile.path) && Date() < deadline { usleep(20_000) }
            port = Int((try? String(contentsOf: portFile, encoding: .utf8)) ?? "") ?? 0
        }

        // SIGKILL: the test process may block SIGTERM, and a child inherits the mask.
        deinit {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// (method, path, status, bytes) per request served so far.
        var requests: [(method: String, status: Int, bytes: Int)] {
            ((try? String(contentsOf: stats, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                let f = line.split(separator: " ")
                guard f.count == 4, let status = Int(f[2]), let bytes = Int(f[3]) else { return nil }
                return (String(f[0]), status, bytes)
            }
        }
    }

    /// What a pipe has carried so far, read on a thread of its own.
    final class PipeText: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()

        init(_ handle: FileHandle) {
            Thread { [self] in
                while case let chunk = handle.availableData, !chunk.isEmpty { lock.withLock { data.append(chunk) } }
            }.start()
        }

        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    }

    func classify(_ image: String, output: String, in directory: URL) throws -> TestSupport.ProcessResult {
        try TestSupport.run(
            mgpr, ["model=resnet50", "image_path=\(image)", "tile_size=128", "batch_size=4", "workers=2", "precision=32",
                   "output=\(output)", "run_dir=\(directory.path)/run-\(UUID().uuidString.prefix(6))"], in: directory)
    }

    @Test("a COG over HTTP gives the local file's results, read by ranges")
    func cogOverHTTP() throws {
        let directory = try TestSupport.temporaryDirectory()
        let cog = directory.appendingPathComponent("neon_cog.tif")
        let translate = try TestSupport.run(
            "/usr/bin/gdal_translate", ["-q", "-of", "COG", "-co", "BLOCKSIZE=128", try TestSupport.neonCrop, cog.path])
        try #require(translate.status == 0, "\(translate.stderr)")
        let server = try Server(root: directory)
        try #require(server.port > 0, "the range server did not start")

        let local = try classify(cog.path, output: directory.path + "/local.csv", in: directory)
        try #require(local.status == 0, "\(local.stderr)")
        let url = "http://127.0.0.1:\(server.port)/neon_cog.tif"
        let remote = try classify(url, output: directory.path + "/remote.csv", in: directory)
        try #require(remote.status == 0, "\(remote.stderr)")
        let localRows = try String(contentsOfFile: directory.path + "/local.csv", encoding: .utf8)
        let remoteRows = try String(contentsOfFile: directory.path + "/remote.csv", encoding: .utf8)
        #expect(localRows.split(separator: "\n").count == 17 && remoteRows == localRows)

        let requests = server.requests
        let size = try FileManager.default.attributesOfItem(atPath: cog.path)[.size] as! Int
        let bytes = requests.reduce(0) { $0 + $1.bytes }
        print("COG over HTTP: \(requests.count) requests, \(bytes) bytes for a \(size)-byte file "
              + "(\(requests.filter { $0.status == 206 }.count) ranged)")
        #expect(requests.contains { $0.status == 206 }, "GDAL should read by ranges")
        #expect(!requests.contains { $0.method == "GET" && $0.status == 200 }, "no request should fetch the whole file")
        // Two readers, each with its own handle, may both fetch a block the other has: bounded, not exact.
        #expect(bytes <= 3 * size, "\(bytes) bytes served for a \(size)-byte file")
    }

    @Test("a URL that fails is one error line with the HTTP status", arguments: [("missing.tif", "404"), ("forbidden/x.tif", "403")])
    func failingURL(path: String, status: String) throws {
        let directory = try TestSupport.temporaryDirectory()
        let server = try Server(root: directory)
        try #require(server.port > 0)
        let url = "http://127.0.0.1:\(server.port)/\(path)"
        let result = try classify(url, output: directory.path + "/x.csv", in: directory)
        #expect(result.status != 0)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("mgpr: error:") }
        #expect(errors.count == 1 && errors[0].contains(url) && errors[0].contains(status), "\(result.stderr)")
    }

    /// The NEON crop as a COG of 128 px blocks in `directory`, served from there.
    static func serveNeonCOG(in directory: URL) throws -> Server {
        let translate = try TestSupport.run(
            "/usr/bin/gdal_translate",
            ["-q", "-of", "COG", "-co", "BLOCKSIZE=128", try TestSupport.neonCrop, directory.appendingPathComponent("neon.tif").path])
        try #require(translate.status == 0, "\(translate.stderr)")
        let server = try Server(root: directory)
        try #require(server.port > 0)
        return server
    }

    @Test("a server that stalls fails the run in bounded time with one line naming the URL",
          arguments: ["stall-head", "stall-get", "stall-body"])
    func stalledServer(mode: String) throws {
        let directory = try TestSupport.temporaryDirectory()
        let server = try Self.serveNeonCOG(in: directory)
        let url = "http://127.0.0.1:\(server.port)/\(mode)/neon.tif"
        // mgpr's own defaults (30 s below 1 byte/s, 3 retries) would hold the suite for minutes:
        // the environment's settings win, and these make the bound seconds.
        var env = ProcessInfo.processInfo.environment
        (env["GDAL_HTTP_LOW_SPEED_TIME"], env["GDAL_HTTP_MAX_RETRY"]) = ("1", "0")
        let started = Date()
        let result = try TestSupport.run(
            "/usr/bin/timeout", ["120", mgpr, "model=resnet50", "image_path=\(url)", "tile_size=128", "batch_size=4", "workers=2",
                                 "precision=32", "output=\(directory.path)/x.csv", "run_dir=\(directory.path)/run"],
            in: directory, environment: env)
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == 1, "\(mode): \(result.status) after \(elapsed) s: \(result.stderr)")
        #expect(elapsed < 60, "\(mode): \(elapsed) s")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("mgpr: error:") }
        #expect(errors.count == 1 && errors[0].contains(url), "\(result.stderr)")
        if mode == "stall-body" {
            #expect(result.stderr.contains("Predicting 16 tiles"), "the stall came while tiles were read")
        }
    }

    @Test("a stop while readers are blocked in a stalled read ends the run within seconds, its work kept (exit 75)")
    func stopWhileReadersAreBlocked() throws {
        let directory = try TestSupport.temporaryDirectory()
        let server = try Self.serveNeonCOG(in: directory)
        // Reads that stall for ten minutes: only the stop can end this run in time.
        var env = ProcessInfo.processInfo.environment
        (env["GDAL_HTTP_LOW_SPEED_TIME"], env["GDAL_HTTP_MAX_RETRY"]) = ("600", "0")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mgpr)
        process.arguments = [
            "model=resnet50", "image_path=http://127.0.0.1:\(server.port)/stall-body/neon.tif", "tile_size=128", "batch_size=4",
            "workers=2", "precision=32", "output=\(directory.path)/x.csv", "run_dir=\(directory.path)/run",
        ]
        (process.currentDirectoryURL, process.environment) = (directory, env)
        let errors = Pipe()
        (process.standardOutput, process.standardError) = (FileHandle.nullDevice, errors)
        try process.run()
        let log = PipeText(errors.fileHandleForReading)
        let deadline = Date().addingTimeInterval(60)
        while !log.text.contains("Predicting 16 tiles") && Date() < deadline { usleep(50_000) }
        Thread.sleep(forTimeInterval: 1)  // the readers are in their stalled reads
        let signalled = Date()
        process.terminate()
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        let ended = exited.wait(timeout: .now() + 30) == .success || !process.isRunning
        if !ended { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(signalled)
        #expect(ended && seconds < 10, "\(seconds) s after SIGTERM: \(log.text)")
        #expect(process.terminationStatus == 75, "\(log.text)")
        #expect(log.text.contains("Stopped by SIGTERM with 0 tiles done"), "\(log.text)")
        let status = try String(contentsOf: directory.appendingPathComponent("run/rank-0/status.json"), encoding: .utf8)
        #expect(status.contains("\"interrupted\""), "\(status)")
    }

    @Test("mgpr sets GDAL's connect and low-speed timeouts unless the environment does")
    func timeoutSettings() {
        let settings = Dictionary(uniqueKeysWithValues: RemoteRaster.settings.map { ($0.key, $0.value) })
        #expect(settings["GDAL_HTTP_CONNECTTIMEOUT"] == "30")
        #expect(settings["GDAL_HTTP_LOW_SPEED_TIME"] == "30" && settings["GDAL_HTTP_LOW_SPEED_LIMIT"] == "1")
    }
}
