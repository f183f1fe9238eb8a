import CPUBackend
import Engine
import Foundation
import Models
import Testing
import TestSupport
import Weights

/// The convolutional part of Faster R-CNN (ResNet50 body, FPN, RPN head) against
/// torchvision's fasterrcnn_resnet50_fpn on the same weights and the same transformed
/// NEON tile (reference/make_fasterrcnn.py), recorded in float64. Tolerance: every f32
/// output's largest difference within 1e-4 of its largest |value|, or within twice
/// PyTorch's own float32 difference where that is larger (the RPN head's small outputs
/// sum large features: float32 itself, PyTorch's, misses them by up to 8e-5 there, and
/// oneDNN's AVX2 kernels, which sum in another order, by 1.1e-4).
@Suite("Faster R-CNN backbone matches torchvision", .serialized)
struct FasterRCNNBackboneTests {
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/fasterrcnn") }

    static func array(_ name: String) throws -> [Double] {
        try Reference.array(fixtures, case: "neon_tile", name)
    }

    /// PyTorch's own float32 against the float64 reference, per output, as recorded.
    static func torchFloat32Error() throws -> [String: Double] {
        let manifest = try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixtures.appendingPathComponent("manifest.json"))) as! [String: Any]
        return (manifest["cases"] as! [[String: Any]])[0]["torch_f32_relative_error"] as! [String: Double]
    }

    func run(weightsFile: String, precision: Precision = .f32) throws -> (outputs: [[Float]], names: [String]) {
        var weights = try WeightStore(contentsOf: Self.fixtures.appendingPathComponent(weightsFile).path)
        weights.rename(FasterRCNNBackbone.modernKey)
        let graph = FasterRCNNBackbone.graph(batch: 1, height: 800, width: 800)
        let expected = graph.parameters
        try weights.validate(expected: expected, ignored: { $0.hasPrefix("roi_heads.") || $0.hasSuffix("num_batches_tracked") })
        let plan = try CPUBackend(threads: 2).compile(graph, weights: weights, precision: precision)
        let input = try Reference.input(Self.fixtures, case: "neon_tile", "input")
        let buffers = plan.outputShapes.map { HostBuffer(count: $0.count) }
        try plan.run(input: HostBuffer(input), outputs: buffers)
        let outputs = buffers.map(\.array)
        let names = (0..<5).map { "level\($0)" } + (0..<5).flatMap { ["objectness\($0)", "deltas\($0)"] }
        return (outputs, names)
    }

    @Test("pyramid levels and RPN head outputs match in f32, with current and older key names",
          arguments: ["fasterrcnn.pth", "fasterrcnn_oldkeys.pth"])
    func float32(weightsFile: String) throws {
        let (outputs, names) = try run(weightsFile: weightsFile)
        for (output, name) in zip(outputs, names) {
            let reference = try Self.array(name)
            try #require(output.count == reference.count, "\(name): \(output.count) values, torchvision \(reference.count)")
            let scale = reference.map(abs).max()!
            let worst = zip(output, reference).map { abs(Double($0) - $1) }.max()!
            let bar = max(1e-4, 2 * (try Self.torchFloat32Error()[name]!))
            #expect(worst / scale <= bar, "\(name): worst difference \(worst) against max |value| \(scale); bar \(bar)")
        }
    }
}

extension FasterRCNNBackboneTests {
    @Test("bf16 pyramid levels are as close to the float64 reference as PyTorch's own bf16 autocast is", .needsNativeBF16)
    func bfloat16() throws {
        let manifest = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.fixtures.appendingPathComponent("manifest.json"))) as! [String: Any]
        let bar = ((manifest["cases"] as! [[String: Any]])[0]["torch_bf16_median_relative_error"] as! [String: Double])
        let (outputs, names) = try run(weightsFile: "fasterrcnn.pth", precision: .bf16)
        for (output, name) in zip(outputs, names) where name.hasPrefix("level") {
            let reference = try Self.array(name)
            let scale = reference.map(abs).max()!
            let errors = zip(output, reference).map { abs(Double($0) - $1) / scale }.sorted()
            let median = errors[errors.count / 2]
            #expect(median <= bar[name]! * 1.1, "\(name): median error \(median), PyTorch's bf16 \(bar[name]!)")
        }
    }
}
