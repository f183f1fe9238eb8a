import CPUBackend
import Engine
import Foundation
import Synchronization
@testable import Models
import Testing
import TestSupport
import Weights

/// RetinaNet (v1 with 91 classes, v1 with DeepForest's one "Tree" class, v2 with
/// GroupNorm heads and P6 from C5) against torchvision's retinanet_resnet50_fpn(_v2) on
/// the same seeded weights and pixels (reference/make_retinanet.py), recorded in
/// float64. Network outputs: every f32 output's largest difference within 1e-4 of its
/// largest |value|, or three times PyTorch's own float32 difference where that is
/// larger (the seeded classifiers' last layers sit on a cancellation, a shift that lets
/// only the strongest tower outputs fire, where float32 itself, PyTorch's, misses by up
/// to 1.7e-4 of the largest logit, and oneDNN's kernels sum in another order).
/// Detections: at least 99% of torchvision's found with the same label, IoU >= 0.99 and
/// score within 1e-3 (2e-3 on the generated tiles, where PyTorch's own float32 scores
/// miss its float64 ones by up to 1e-3), at most 1% extra.
@Suite("RetinaNet matches torchvision", .serialized)
struct RetinaNetTests {
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/retinanet") }

    static func manifestCase(_ name: String) throws -> [String: Any] {
        let manifest = try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixtures.appendingPathComponent("manifest.json"))) as! [String: Any]
        return try #require((manifest["cases"] as! [[String: Any]]).first { $0["name"] as? String == name }, "no case \(name)")
    }

    /// Loads weights as `mgpr` does: any of the files the script wrote, older names renamed.
    static func weights(_ file: String) throws -> (WeightStore, RetinaNetNetwork) {
        var weights = try WeightStore(contentsOf: fixtures.appendingPathComponent(file).path)
        weights.rename(RetinaNetNetwork.modernKey)
        let network = try RetinaNetNetwork.described(by: weights).get()
        try weights.validate(expected: network.parameters, ignored: ResNet50.isIgnored)
        return (weights, network)
    }

    static func detector(_ file: String, score: Float = 0.05, nms: Float = 0.5) throws -> RetinaNet {
        let (weights, network) = try weights(file)
        var settings = DetectorSettings()
        (settings.scoreThreshold, settings.nmsThreshold, settings.detectionsPerImage) = (score, nms, 300)
        return RetinaNet(network: network, backend: CPUBackend(threads: 2), weights: weights, precision: .f32, settings: settings)
    }

    @Test("the weights tell v1 from v2 and count the classes", arguments: [
        ("v1_91.pth", RetinaNetNetwork(classes: 91)), ("v2_91.pth", RetinaNetNetwork(classes: 91, p6FromC5: true, groupNormHead: true)),
        ("v1_tree.pth", RetinaNetNetwork(classes: 1)),
    ])
    func variant(file: String, expected: RetinaNetNetwork) throws {
        #expect(try Self.weights(file).1 == expected)
    }

    @Test("pyramid levels and head outputs match in f32, from every file format a user has", arguments: [
        ("v1_91", "v1_91.pth"), ("v1_91", "v1_91_oldkeys.pth"), ("v1_91", "v1_91.safetensors"),
        ("v1_91", "v1_91_reference_script.pth"), ("v2_91", "v2_91.pth"), ("v1_tree", "v1_tree.pth"),
        ("v1_tree", "deepforest_tree"), ("v1_tree", "v1_tree_lightning.ckpt"),
    ])
    func network(model: String, file: String) throws {
        let (weights, network) = try Self.weights(file)
        let name = "\(model).neon_tile"
        let graph = network.graph(batch: 1, height: 800, width: 800, exposingLevels: true)
        let plan = try CPUBackend(threads: 2).compile(graph, weights: weights, precision: .f32)
        let input = try Reference.input(Self.fixtures, case: name, "input")
        try #require(input.count == 3 * 800 * 800)
        let buffers = plan.outputShapes.map { HostBuffer(count: $0.count) }
        try plan.run(input: HostBuffer(input), outputs: buffers)
        let names = (0..<5).map { "level\($0)" } + (0..<5).flatMap { ["logits\($0)", "regression\($0)"] }
        let torchError = try Self.manifestCase(name)["torch_f32_relative_error"] as! [String: Double]
        for (buffer, key) in zip(buffers.map(\.array), names) {
            let reference = try Reference.array(Self.fixtures, case: name, key)
            try #require(buffer.count == reference.count, "\(key): \(buffer.count) values, torchvision \(reference.count)")
            let scale = reference.map(abs).max()!
            let worst = zip(buffer, reference).map { abs(Double($0) - $1) }.max()!
            let bar = max(1e-4, 3 * (torchError[key] ?? 0))
            #expect(scale > 0 && worst / scale <= bar, "\(file) \(key): worst difference \(worst) against max |value| \(scale); bar \(bar)")
        }
    }

    @Test("detections: 99% of torchvision's float64 ones found (same label, IoU >= 0.99, score within 1e-3, 2e-3 on generated tiles), at most 1% extra",
          arguments: [("v1_91", "neon_tile", 400), ("v2_91", "neon_tile", 400), ("v1_tree", "neon_tile", 400),
                      ("v1_91", "noise_1024_b2", 1024), ("v2_91", "noise_1024_b2", 1024)])
    func detections(model: String, tileCase: String, size: Int) throws {
        let name = "\(model).\(tileCase)"
        let tiles = try Reference.input(Self.fixtures, case: name, "tile")
        let count = tiles.count / (3 * size * size)
        let detector = model == "v1_tree"
            ? try Self.detector("v1_tree.pth", score: 0.1, nms: 0.05) : try Self.detector("\(model).pth")
        let found = try detector.detect(HostBuffer(tiles), count: count, channels: 3, height: size, width: size)
        let expected = try FasterRCNNTests.expected(fixtures: Self.fixtures, case: name)
        try #require(found.count == expected.count)
        for (tile, (mine, theirs)) in zip(found, expected).enumerated() {
            let (matched, extra) = FasterRCNNTests.match(mine, theirs, scoreTolerance: tileCase == "neon_tile" ? 1e-3 : 2e-3)
            #expect(theirs.count >= 20, "\(name) tile \(tile): the reference should hold many detections, has \(theirs.count)")
            let sides = theirs.map { min($0.box.width, $0.box.height) }.sorted()
            #expect(sides[sides.count / 2] >= 8, "\(name): boxes of sensible size, median short side \(sides[sides.count / 2])")
            #expect(Double(matched) >= 0.99 * Double(theirs.count), "\(name) tile \(tile): found \(matched) of \(theirs.count); mgpr gave \(mine.count)")
            #expect(Double(extra) <= 0.01 * Double(theirs.count), "\(name) tile \(tile): \(extra) extra detections")
        }
    }

    @Test("a detector that let its weights go loads them again for a pass of a new size, and detects as one that kept them")
    func weightsLoadedAgain() throws {
        let tile = try Reference.input(Self.fixtures, case: "v1_91.neon_tile", "tile")
        let (store, network) = try Self.weights("v1_91.pth")
        var settings = DetectorSettings()
        (settings.scoreThreshold, settings.nmsThreshold, settings.detectionsPerImage, settings.imagesPerPass) = (0.05, 0.5, 300, 2)
        let backend = CPUBackend(threads: 2)
        let kept = try RetinaNet(network: network, backend: backend, weights: store, precision: .f32, settings: settings)
            .detect(HostBuffer(tile), count: 1, channels: 3, height: 400, width: 400)

        final class Loads: Sendable { let count = Atomic<Int>(0) }
        let loads = Loads()
        let supply = WeightSupply(store, users: 1) {
            loads.count.add(1, ordering: .relaxed)
            return try Self.weights("v1_91.pth").0
        }
        let detector = RetinaNet(network: network, backend: backend, weights: supply, precision: .f32, settings: settings)
        try detector.prepare(count: 2, height: 400, width: 400)  // a pass of two tiles
        #expect(supply.madePlans() && !supply.isHeld)
        let found = try detector.detect(HostBuffer(tile), count: 1, channels: 3, height: 400, width: 400)  // a pass of one
        #expect(loads.count.load(ordering: .relaxed) == 1)
        #expect(kept[0].count >= 20, "the tile should give many detections, gives \(kept[0].count)")
        #expect(found == kept)
    }

    @Test("anchors: torchvision's sizes (32, 40, 50, ...) and ratio-major order")
    func anchors() {
        #expect(Anchors.retinaNetSizes[0] == [32, 40, 50] && Anchors.retinaNetSizes[4] == [512, 645, 812])
        let cell = Anchors.cell(sizes: [32, 40, 50])
        // torchvision: ratio 0.5 first (wide), sizes within it; rounded half to even.
        #expect(cell.count == 9 && cell[0] == Box(-23, -11, 23, 11) && cell[4] == Box(-20, -20, 20, 20))
    }

    @Test("older head names (conv.{2i}) and FPN names are renamed as torchvision does on load")
    func oldKeys() {
        #expect(RetinaNetNetwork.modernKey("head.classification_head.conv.6.bias") == "head.classification_head.conv.3.0.bias")
        #expect(RetinaNetNetwork.modernKey("head.regression_head.conv.0.weight") == "head.regression_head.conv.0.0.weight")
        #expect(RetinaNetNetwork.modernKey("head.regression_head.conv.1.1.weight") == "head.regression_head.conv.1.1.weight")
        #expect(RetinaNetNetwork.modernKey("backbone.fpn.inner_blocks.2.weight") == "backbone.fpn.inner_blocks.2.0.weight")
    }
}
