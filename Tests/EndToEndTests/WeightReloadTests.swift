import Configuration
import Foundation
import Testing
import TestSupport
import Weights
@testable import MGPRCommands

/// A run lets its weights' tensors go once its plans are made, and reads the file again
/// if a plan is needed later: only while the file is the one the run started with.
@Suite("Weights read again during a run")
struct WeightReloadTests {
    @Test("read again, the same file gives the same tensors; a file changed since is refused, by name")
    func changedFile() throws {
        let source = TestSupport.packageRoot.appendingPathComponent(".fixtures/resnet50/resnet50.pth")
        guard FileManager.default.fileExists(atPath: source.path) else { throw TestSupport.FixtureMissing(path: source.path) }
        let path = try TestSupport.temporaryDirectory().appendingPathComponent("weights.pth").path
        try FileManager.default.copyItem(atPath: source.path, toPath: path)
        let config = try Invocation(arguments: ["model=resnet50", "weights=\(path)"]).config
        let log = Log(name: "test", quiet: true)
        let loaded = try ResNet50Architecture.load(config, log: log)
        let supply = ModelSetup.supply(loaded.weights, config, users: 1) { try ResNet50Architecture.load($0, log: $1).weights }
        #expect(supply.madePlans())

        #expect(try supply.store().tensors == loaded.weights.tensors)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        #expect(throws: WeightsError.changedDuringRun(path: path)) { try supply.store() }
    }
}
