import Foundation
import Testing
import TestSupport

/// Text from files reaches the terminal and the report inert: control characters shown
/// as escapes, so a label name cannot split an error line or drive the terminal, and
/// bounded, so a 10 MB name makes neither a 10 MB line nor a 10 MB report.
@Suite("Text from files is inert")
struct InertTextTests {
    let mgpr = TestSupport.product("mgpr")
    static let hostile = "Tree\nmgpr: error: forged\u{1B}[31mred\u{7}"
    static let huge = String(repeating: "x", count: 1_000_000)

    func folder(_ directory: URL, labels: String, weights: URL? = nil) throws -> URL {
        let folder = directory.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try #"{"label_dict": \#(labels)}"#.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        if let weights {
            try FileManager.default.copyItem(at: weights, to: folder.appendingPathComponent("model.safetensors"))
        }
        return folder
    }

    func json(_ text: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed]), as: UTF8.self)
            .dropFirst().dropLast().description
    }

    @Test("an error carrying label names is one bounded line with its control characters escaped")
    func errorLine() throws {
        let directory = try TestSupport.temporaryDirectory()
        let labels = "{\(try json(Self.hostile)): 0, \(try json(Self.huge)): 0}"
        let model = try folder(directory, labels: labels)
        let result = try TestSupport.run(mgpr, ["model=retinanet", "use_fake_data=true", "weights=\(model.path)"], in: directory)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("mgpr: error: "), "\(result.stderr.prefix(300))")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr.prefix(300))")
        #expect(result.stderr.count < 2100, "bounded: \(result.stderr.count) characters")
        #expect(!result.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
        #expect(result.stderr.contains(#"Tree\nmgpr: error: forged\e[31mred\u{7}"#), "\(result.stderr.prefix(300))")
    }

    @Test("label names in log lines and the report are escaped and cut",
          .enabled(if: FileManager.default.fileExists(atPath: RetinaNetCommandTests.fixtures.appendingPathComponent("deepforest_tree").path),
                   "needs the RetinaNet fixtures (scripts/fixtures.sh)"))
    func logAndReport() throws {
        let directory = try TestSupport.temporaryDirectory()
        let model = try folder(
            directory, labels: "{\(try json(Self.hostile + Self.huge)): 0}",
            weights: RetinaNetCommandTests.fixtures.appendingPathComponent("deepforest_tree/model.safetensors"))
        let run = directory.appendingPathComponent("run")
        let result = try TestSupport.run(
            mgpr, ["preset=deepforest", "use_fake_data=true", "dummy_dataset_count=1", "dummy_dataset_delay=0", "tile_size=64",
                   "weights=\(model.path)", "precision=32", "output=none", "run_dir=\(run.path)"], in: directory)
        #expect(result.status == 0, "\(result.stderr.prefix(2000))")
        #expect(!result.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
        #expect(!result.stderr.contains("\nmgpr: error: forged"), "a name cannot forge a line")
        let longest = result.stderr.split(separator: "\n").map(\.count).max() ?? 0
        #expect(longest < 2000, "the longest log line has \(longest) characters")
        #expect(result.stderr.contains(#"classes Tree\nmgpr: error: forged\e[31mred\u{7}xxx"#), "\(result.stderr.prefix(3000))")
        let report = try FileManager.default.attributesOfItem(atPath: run.appendingPathComponent("report.html").path)[.size] as! Int
        #expect(report < 500_000, "report.html is \(report) bytes")
    }
}
