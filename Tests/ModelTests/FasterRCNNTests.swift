import CPUBackend
import Engine
import Foundation
import Models
import Testing
import TestSupport
import Weights

/// The whole detector against torchvision's fasterrcnn_resnet50_fpn on the same weights
/// and the same NEON tile (reference/make_fasterrcnn.py). In f32: at least 99% of
/// torchvision's detections found with the same label, IoU >= 0.99 and score within
/// 1e-3, and no more than 1% extra.
@Suite("Faster R-CNN matches torchvision", .serialized)
struct FasterRCNNTests {
    static func reference(_ name: String, case: String = "neon_tile") throws -> [Float] {
        let url = FasterRCNNBackboneTests.fixtures.appendingPathComponent("cases/\(`case`).\(name).f32")
        guard FileManager.default.fileExists(atPath: url.path) else { throw TestSupport.FixtureMissing(path: url.path) }
        return try Data(contentsOf: url).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The NEON crop as one 400 px tile: what mgpr's loader hands the model.
    static func tile() throws -> [Float] { try reference("tile") }

    func detector() throws -> FasterRCNN {
        let weights = try WeightStore(contentsOf: FasterRCNNBackboneTests.fixtures.appendingPathComponent("fasterrcnn.pth").path)
        try weights.validate(expected: FasterRCNN.parameters(classes: 91), ignored: { $0.hasSuffix("num_batches_tracked") })
        return FasterRCNN(backend: CPUBackend(threads: 2), weights: weights, precision: .f32, classes: 91, settings: DetectorSettings())
    }

    @Test("the transform gives torchvision's normalised, resized, padded input")
    func transform() throws {
        let tile = try Self.tile()
        let t = DetectorTransform(minSize: 800, maxSize: 1333, normalization: ResNet50.preprocessing)
        var out = [Float](repeating: .nan, count: 3 * 800 * 800)
        tile.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { t.apply(src.baseAddress!, channels: 3, height: 400, width: 400, into: $0.baseAddress!) } }
        let reference = try Self.reference("input")
        let worst = zip(out, reference).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-5, "worst difference \(worst)")
    }

    @Test("detections: 99% of torchvision's found (same label, IoU >= 0.99, score within 1e-3), at most 1% extra",
          arguments: [("neon_tile", 400), ("noise_1024", 1024)])
    func detections(name: String, size: Int) throws {
        let tile = try Self.reference("tile", case: name)
        let found = try tile.withUnsafeBufferPointer { try detector().detect($0.baseAddress!, count: 1, channels: 3, height: size, width: size) }[0]
        let boxes = try Self.reference("boxes", case: name), scores = try Self.reference("scores", case: name)
        let labels = try Self.reference("labels", case: name)
        let expected = scores.indices.map { i in
            Detection(box: Box(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]), label: Int(labels[i]), score: scores[i])
        }
        var unmatched = found
        var matched = 0
        for e in expected {
            if let j = unmatched.firstIndex(where: { $0.label == e.label && $0.box.iou(e.box) >= 0.99 && abs($0.score - e.score) <= 1e-3 }) {
                unmatched.remove(at: j)
                matched += 1
            }
        }
        #expect(expected.count >= 20, "the reference should hold many detections, has \(expected.count)")
        #expect(Double(matched) >= 0.99 * Double(expected.count), "found \(matched) of \(expected.count); mgpr gave \(found.count)")
        #expect(Double(unmatched.count) <= 0.01 * Double(expected.count), "\(unmatched.count) extra detections")
    }
}

@Suite("Faster R-CNN across batch sizes")
struct FasterRCNNBatchTests {
    @Test("batches of different sizes, in any order, give each tile the same detections")
    func batchSizesInAnyOrder() throws {
        var settings = DetectorSettings()
        (settings.minSize, settings.maxSize) = (128, 128)
        let detector = FasterRCNN(
            backend: CPUBackend(threads: 2), weights: FasterRCNN.seededWeights(seed: 3), precision: .f32, classes: 91,
            settings: settings)
        var noise = [Float](repeating: 0, count: 2 * 3 * 96 * 96)
        for i in noise.indices { noise[i] = Float((i * 7919) % 1000) / 1000 }
        func run(_ count: Int, from tile: Int = 0) throws -> [[Detection]] {
            try noise.withUnsafeBufferPointer {
                try detector.detect($0.baseAddress! + tile * 3 * 96 * 96, count: count, channels: 3, height: 96, width: 96)
            }
        }
        let pair = try run(2)
        let second = try run(1, from: 1)
        let pairAgain = try run(2)
        #expect(pair == pairAgain)
        #expect(second[0] == pair[1])
    }
}
