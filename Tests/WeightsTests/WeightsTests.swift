import Foundation
import Engine
import Models
import Testing
import TestSupport
@testable import Weights

/// Weights files from torch itself (Tests/ModelTests/reference/make_resnet50.py), hostile
/// ones included: a weights file must never run code, and every problem names its key.
@Suite("Weights files")
struct WeightsTests {
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/resnet50") }

    func hostile(_ name: String) throws -> String {
        let path = Self.fixtures.appendingPathComponent("hostile/\(name)").path
        guard FileManager.default.fileExists(atPath: path) else { throw TestSupport.FixtureMissing(path: path) }
        return path
    }

    @Test("a pickle that would call os.system is refused, naming the call")
    func runsCode() throws {
        let path = try hostile("runs_code.pth")
        #expect(throws: WeightsError.forbidden(path: path, what: "posix.system")) { try WeightStore(contentsOf: path) }
    }

    @Test("a whole pickled module is refused: save its state_dict instead")
    func wholeModule() throws {
        let path = try hostile("whole_module.pth")
        let error = #expect(throws: WeightsError.self) { try WeightStore(contentsOf: path) }
        #expect(error == .notAStateDict(path: path, found: "a pickled torch.nn.modules.linear.Linear"))
        #expect(error?.description.contains("save model.state_dict()") == true)
    }

    @Test("storage types a model cannot use are named", arguments: [("complex_dtype.pth", "ComplexFloatStorage"), ("int16_dtype.pth", "ShortStorage")])
    func wrongDtypes(file: String, storage: String) throws {
        let path = try hostile(file)
        #expect(throws: WeightsError.malformed(path: path, reason: "pickle: storage type \(storage) is not supported")) {
            try WeightStore(contentsOf: path)
        }
    }

    @Test("a truncated file is reported, not read past its end")
    func truncated() throws {
        let path = try hostile("truncated.pth")
        let error = #expect(throws: WeightsError.self) { try WeightStore(contentsOf: path) }
        guard case .malformed(_, let reason) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.hasPrefix("zip:"))
    }

    @Test("a strided (transposed) tensor is read through its strides")
    func strided() throws {
        let store = try WeightStore(contentsOf: try hostile("strided.pth"))
        // torch.arange(12.0).view(3, 4).t()
        #expect(store["w"] == HostTensor(shape: [4, 3], values: [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]))
    }

    @Test("missing, extra and mis-shaped keys are named with both shapes")
    func validation() throws {
        let path = Self.fixtures.appendingPathComponent("resnet50.safetensors").path
        guard FileManager.default.fileExists(atPath: path) else { throw TestSupport.FixtureMissing(path: path) }
        let store = try WeightStore(contentsOf: path)
        let expected = ResNet50.graph(batch: 1, height: 64, width: 64, classes: 1000).parameters
        try store.validate(expected: expected, ignored: ResNet50.isIgnored)

        var missing = store.tensors
        missing["layer2.1.bn2.running_var"] = nil
        #expect(throws: WeightsError.missingKey(path: path, key: "layer2.1.bn2.running_var")) {
            try WeightStore(path: path, tensors: missing).validate(expected: expected, ignored: ResNet50.isIgnored)
        }
        var extra = store.tensors
        extra["head.weight"] = HostTensor(shape: [1], values: [0])
        #expect(throws: WeightsError.unexpectedKey(path: path, key: "head.weight")) {
            try WeightStore(path: path, tensors: extra).validate(expected: expected, ignored: ResNet50.isIgnored)
        }
        var misShaped = store.tensors
        misShaped["fc.weight"] = HostTensor(shape: [10, 2048], values: [Float](repeating: 0, count: 20480))
        let error = #expect(throws: WeightsError.self) {
            try WeightStore(path: path, tensors: misShaped).validate(expected: expected, ignored: ResNet50.isIgnored)
        }
        #expect(error == .shapeMismatch(path: path, key: "fc.weight", expected: [1000, 2048], found: [10, 2048]))
        #expect(error?.description == "weights \(path): 'fc.weight' has shape [10, 2048] but the model needs [1000, 2048]")
    }

    @Test("files that are not weights are refused clearly")
    func notWeights() throws {
        let directory = try TestSupport.temporaryDirectory()
        let text = directory.appendingPathComponent("weights.bin").path
        try "hello".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(throws: WeightsError.unsupportedFormat(path: text)) { try WeightStore(contentsOf: text) }
        let safetensors = directory.appendingPathComponent("bad.safetensors").path
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0] = 0xFF; bytes[1] = 0xFF  // a header length past the end of the file
        FileManager.default.createFile(atPath: safetensors, contents: Data(bytes))
        #expect(throws: WeightsError.malformed(path: safetensors, reason: "header length 65535 runs past the end of the file")) {
            try WeightStore(contentsOf: safetensors)
        }
        #expect(throws: WeightsError.fileNotFound(path: "/no/weights.pth")) { try WeightStore(contentsOf: "/no/weights.pth") }
    }
}
