import CPUBackend
import Engine
import Foundation
@testable import Models
import Testing
import TestSupport
import Weights

/// The whole detector against torchvision's fasterrcnn_resnet50_fpn on the same weights
/// and the same pixels (reference/make_fasterrcnn.py: the NEON tile, one generated 1024
/// px tile, and two given as one batch), recorded in float64. In f32: at least 99% of
/// torchvision's detections found with the same label, IoU >= 0.99 and score within
/// 1e-3, and no more than 1% extra.
@Suite("Faster R-CNN matches torchvision", .serialized)
struct FasterRCNNTests {
    static func reference(_ name: String, case: String = "neon_tile") throws -> [Double] {
        try Reference.array(FasterRCNNBackboneTests.fixtures, case: `case`, name)
    }

    /// The NEON crop as one 400 px tile: what mgpr's loader hands the model.
    static func tile(case name: String = "neon_tile") throws -> [Float] {
        try Reference.input(FasterRCNNBackboneTests.fixtures, case: name, "tile")
    }

    /// The reference detections of a case, tile after tile.
    static func expected(case name: String) throws -> [[Detection]] {
        try expected(fixtures: FasterRCNNBackboneTests.fixtures, case: name)
    }

    /// The detections a reference script recorded for a case (`boxes`, `scores`,
    /// `labels`, and `counts` per tile when there are several), tile after tile.
    static func expected(fixtures: URL, case name: String) throws -> [[Detection]] {
        func reference(_ key: String, case name: String) throws -> [Double] { try Reference.array(fixtures, case: name, key) }
        let boxes = try reference("boxes", case: name), scores = try reference("scores", case: name)
        let labels = try reference("labels", case: name)
        let counts = (try? reference("counts", case: name)).map { $0.map { Int($0) } } ?? [scores.count]
        var start = 0
        return counts.map { count in
            defer { start += count }
            return (start..<(start + count)).map { i in
                Detection(
                    box: Box(Float(boxes[4 * i]), Float(boxes[4 * i + 1]), Float(boxes[4 * i + 2]), Float(boxes[4 * i + 3])),
                    label: Int(labels[i]), score: Float(scores[i]))
            }
        }
    }

    /// Matches found detections to expected ones: same label, IoU >= 0.99, score within
    /// `scoreTolerance`.
    static func match(_ found: [Detection], _ expected: [Detection], scoreTolerance: Float = 1e-3) -> (matched: Int, extra: Int) {
        var unmatched = found
        var matched = 0
        for e in expected {
            if let j = unmatched.firstIndex(where: {
                $0.label == e.label && $0.box.iou(e.box) >= 0.99 && abs($0.score - e.score) <= scoreTolerance
            }) {
                unmatched.remove(at: j)
                matched += 1
            }
        }
        return (matched, unmatched.count)
    }

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
        tile.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { t.apply(src, channels: 3, height: 400, width: 400, into: $0) } }
        let reference = try Self.reference("input")
        let worst = zip(out, reference).map { abs(Double($0) - $1) }.max()!
        #expect(worst <= 1e-5, "worst difference \(worst)")
    }

    @Test("the RPN's proposals: 99% of torchvision's float64 ones found with IoU >= 0.99, in the same number")
    func proposals() throws {
        let tile = try Self.tile()
        let found = try detector().propose(HostBuffer(tile), count: 1, channels: 3, height: 400, width: 400)[0]
        let values = try Self.reference("proposals")
        let expected = stride(from: 0, to: values.count, by: 4).map {
            Box(Float(values[$0]), Float(values[$0 + 1]), Float(values[$0 + 2]), Float(values[$0 + 3]))
        }
        #expect(expected.count == 1000 && found.count == expected.count, "mgpr \(found.count), torchvision \(expected.count)")
        let matched = expected.filter { e in found.contains { $0.iou(e) >= 0.99 } }.count
        #expect(Double(matched) >= 0.99 * Double(expected.count), "found \(matched) of \(expected.count)")
    }

    @Test("detections: 99% of torchvision's float64 ones found (same label, IoU >= 0.99, score within 1e-3), at most 1% extra",
          arguments: [("neon_tile", 400), ("noise_1024", 1024), ("noise_1024_b2", 1024)])
    func detections(name: String, size: Int) throws {
        let tiles = try Self.tile(case: name)
        let count = tiles.count / (3 * size * size)
        let found = try detector().detect(HostBuffer(tiles), count: count, channels: 3, height: size, width: size)
        let expected = try Self.expected(case: name)
        try #require(found.count == expected.count)
        for (tile, (mine, theirs)) in zip(found, expected).enumerated() {
            let (matched, extra) = Self.match(mine, theirs)
            #expect(theirs.count >= 20, "tile \(tile): the reference should hold many detections, has \(theirs.count)")
            #expect(Double(matched) >= 0.99 * Double(theirs.count), "tile \(tile): found \(matched) of \(theirs.count); mgpr gave \(mine.count)")
            #expect(Double(extra) <= 0.01 * Double(theirs.count), "tile \(tile): \(extra) extra detections")
        }
    }
}

@Suite("Faster R-CNN across batch sizes")
struct FasterRCNNBatchTests {
    @Test("batches of different sizes, in any order, give each tile the same detections")
    func batchSizesInAnyOrder() throws {
        var settings = DetectorSettings()
        (settings.minSize, settings.maxSize) = (128, 128)
        settings.imagesPerPass = 2
        // Seeded heads start near uniform class scores (~1/91): a low threshold keeps
        // their detections, so there is something to compare.
        settings.scoreThreshold = 0.001
        let detector = FasterRCNN(
            backend: CPUBackend(threads: 2), weights: FasterRCNN.seededWeights(seed: 3), precision: .f32, classes: 91,
            settings: settings)
        var noise = [Float](repeating: 0, count: 2 * 3 * 96 * 96)
        for i in noise.indices { noise[i] = Float((i * 7919) % 1000) / 1000 }
        func run(_ count: Int, from tile: Int = 0) throws -> [[Detection]] {
            try detector.detect(HostBuffer(Array(noise[(tile * 3 * 96 * 96)...])), count: count, channels: 3, height: 96, width: 96)
        }
        let pair = try run(2)
        let second = try run(1, from: 1)
        let pairAgain = try run(2)
        #expect(pair.map(\.count) == [100, 100], "detections per tile: \(pair.map(\.count))")
        // Boxes of sensible size: not slivers, not all the whole tile.
        let sides = pair.flatMap { $0.map { min($0.box.x2 - $0.box.x1, $0.box.y2 - $0.box.y1) } }.sorted()
        #expect(sides[sides.count / 2] >= 4 && sides[sides.count / 4] < 96, "short sides \(sides)")
        #expect(pair[0] != pair[1], "two different tiles gave the same detections")
        // The same plan twice: the same bits. A batch of one runs another plan, whose
        // kernels may sum in another order: the same detections within float rounding.
        #expect(pair == pairAgain)
        let (matched, extra) = FasterRCNNTests.match(second[0], pair[1], scoreTolerance: 1e-4)
        #expect(matched == pair[1].count && extra == 0, "\(matched) of \(pair[1].count) matched, \(extra) extra")

        // One image per pass (less memory) finds what two per pass find.
        settings.imagesPerPass = 1
        let onePerPass = try FasterRCNN(
            backend: CPUBackend(threads: 2), weights: FasterRCNN.seededWeights(seed: 3), precision: .f32, classes: 91, settings: settings
        ).detect(HostBuffer(noise), count: 2, channels: 3, height: 96, width: 96)
        for (mine, theirs) in zip(onePerPass, pair) {
            let (matched, extra) = FasterRCNNTests.match(mine, theirs, scoreTolerance: 1e-4)
            #expect(matched == theirs.count && extra == 0, "one per pass: \(matched) of \(theirs.count) matched, \(extra) extra")
        }
    }
}
