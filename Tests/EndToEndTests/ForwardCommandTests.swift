import Foundation
import Testing
import TestSupport
import Weights

/// `mgpr forward`, the network alone on a .npy batch: the path GPU checks take against PyTorch.
@Suite("mgpr forward")
struct ForwardCommandTests {
    let mgpr = TestSupport.product("mgpr")
    let fixtures = TestSupport.packageRoot.appendingPathComponent(".fixtures/resnet50")

    @Test("torchvision's weights on real NEON pixels: logits within 1e-4 of torchvision's float64, top-1 equal")
    func matchesTorchvision() throws {
        let cases = fixtures.appendingPathComponent("cases")
        guard FileManager.default.fileExists(atPath: cases.path) else { throw TestSupport.FixtureMissing(path: cases.path) }
        let pixels = try Data(contentsOf: cases.appendingPathComponent("neon_224_b3.input.f32"))
            .withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let expected = try Data(contentsOf: cases.appendingPathComponent("neon_224_b3.logits.f64"))
            .withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        let directory = try TestSupport.temporaryDirectory()
        let input = directory.appendingPathComponent("in.npy").path, output = directory.appendingPathComponent("out.npy").path
        try NPY.write(HostTensor(shape: [3, 3, 224, 224], values: pixels), to: input)

        let result = try TestSupport.run(mgpr, [
            "forward", input, output, "model=resnet50", "weights=\(fixtures.appendingPathComponent("resnet50.pth").path)",
            "accelerator=cpu", "precision=32",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let logits = try NPY.read(output)
        #expect(logits.shape == [3, 1000])
        let scale = expected.map(abs).max()!
        let worst = zip(logits.values, expected).map { abs(Double($0) - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "max |mgpr - torchvision f64| = \(worst) of \(scale)")
        for image in 0..<3 {
            let row = image * 1000..<(image + 1) * 1000
            #expect(logits.values[row].indices.max { logits.values[$0] < logits.values[$1] }
                == expected[row].indices.max { expected[$0] < expected[$1] })
        }
    }

    @Test("a detector on the NEON tile: [1, detections_per_tile, 6] rows, 99% of torchvision's float64 detections (label, IoU >= 0.99, score within 1e-3)",
          arguments: [("fasterrcnn", "fasterrcnn", "fasterrcnn.pth", "neon_tile", 100), ("retinanet", "retinanet", "v1_91.pth", "v1_91.neon_tile", 300)])
    func detections(model: String, fixtures: String, weights: String, tileCase: String, limit: Int) throws {
        let folder = TestSupport.packageRoot.appendingPathComponent(".fixtures/\(fixtures)")
        let cases = folder.appendingPathComponent("cases")
        guard FileManager.default.fileExists(atPath: cases.path) else { throw TestSupport.FixtureMissing(path: cases.path) }
        func array<T>(_ name: String, _: T.Type) throws -> [T] {
            try Data(contentsOf: cases.appendingPathComponent("\(tileCase).\(name)")).withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
        }
        let tile = try array("tile.f32", Float.self), boxes = try array("boxes.f64", Double.self)
        let scores = try array("scores.f64", Double.self), labels = try array("labels.f64", Double.self)
        let directory = try TestSupport.temporaryDirectory()
        let input = directory.appendingPathComponent("in.npy").path, output = directory.appendingPathComponent("out.npy").path
        try NPY.write(HostTensor(shape: [1, 3, 400, 400], values: tile), to: input)

        let result = try TestSupport.run(mgpr, [
            "forward", input, output, "model=\(model)", "weights=\(folder.appendingPathComponent(weights).path)",
            "accelerator=cpu", "precision=32", "detections_per_tile=\(limit)",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try NPY.read(output)
        #expect(rows.shape == [1, limit, 6])
        #expect(scores.count >= 20, "the reference should hold many detections, has \(scores.count)")
        var matched = 0
        for e in scores.indices {
            let expected = (0..<4).map { Float(boxes[4 * e + $0]) }
            let found = (0..<limit).contains { j in
                let r = Array(rows.values[(j * 6)..<(j * 6 + 6)])
                let w = max(0, min(r[2], expected[2]) - max(r[0], expected[0])), h = max(0, min(r[3], expected[3]) - max(r[1], expected[1]))
                let union = (r[2] - r[0]) * (r[3] - r[1]) + (expected[2] - expected[0]) * (expected[3] - expected[1]) - w * h
                return Int(r[5]) == Int(labels[e]) && w * h / union >= 0.99 && abs(Double(r[4]) - scores[e]) <= 1e-3
            }
            if found { matched += 1 }
        }
        #expect(Double(matched) >= 0.99 * Double(scores.count), "\(matched) of \(scores.count) matched")
    }

    @Test("a file that is not a float32 .npy is one line naming it; a missing output path is a usage error")
    func badInput() throws {
        let directory = try TestSupport.temporaryDirectory()
        let text = directory.appendingPathComponent("notes.npy")
        try "not numpy".write(to: text, atomically: true, encoding: .utf8)
        let result = try TestSupport.run(mgpr, ["forward", text.path, directory.appendingPathComponent("o.npy").path, "model=resnet50"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(text.path) is not a float32 .npy file mgpr reads: no NUMPY magic"), "\(result.stderr)")
        let usage = try TestSupport.run(mgpr, ["forward", text.path, "model=resnet50"])
        #expect(usage.status == 2 && usage.stderr.contains("give INPUT.npy OUTPUT.npy"))
    }
}
