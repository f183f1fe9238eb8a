import CPUBackend
import Engine
import Foundation
import Testing
import TestSupport
import Weights

/// Bilinear resizing and concatenation on the CPU backend, held to PyTorch's own
/// `F.interpolate(size=..., mode="bilinear")` and `torch.cat` computed in float64 on the
/// same values (Debian's torch, run beside the test). Tolerance: 1e-5 of the largest
/// |value| in float32; bf16 plans resize in float32 too (the kernel reads and writes
/// float32), so they are held to the same bar.
@Suite("Bilinear resize and concat match PyTorch")
struct ResizeConcatTests {
    /// (input h, w) -> (output h, w), align_corners: upsampling by 8 (segmentation
    /// logits), uneven up and down, a 1x1 broadcast (DeepLabV3's image pooling), one row.
    static let cases: [(from: (Int, Int), to: (Int, Int), alignCorners: Bool)] = [
        ((7, 6), (56, 48), false), ((7, 6), (56, 48), true), ((20, 20), (13, 29), false), ((20, 20), (13, 29), true),
        ((1, 1), (9, 5), false), ((5, 9), (1, 17), true), ((3, 4), (3, 4), false),
    ]

    static func pytorch(_ input: [Float], shape: Shape4, to: (Int, Int), alignCorners: Bool) throws -> [Double] {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let inPath = folder.appendingPathComponent("in.f32").path, outPath = folder.appendingPathComponent("out.f64").path
        try input.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: inPath)) }
        let script = """
            import sys, numpy as np, torch
            x = torch.from_numpy(np.fromfile(sys.argv[1], dtype=np.float32).astype(np.float64)).view(\(shape.n), \(shape.c), \(shape.h), \(shape.w))
            y = torch.nn.functional.interpolate(x, size=(\(to.0), \(to.1)), mode="bilinear", align_corners=\(alignCorners ? "True" : "False"))
            y.numpy().astype(np.float64).tofile(sys.argv[2])
            """
        let result = try TestSupport.run(TestSupport.systemPython, ["-c", script, inPath, outPath])
        try #require(result.status == 0, "torch: \(result.stderr)")
        return try Data(contentsOf: URL(fileURLWithPath: outPath)).withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
    }

    static func input(_ shape: Shape4) -> [Float] {
        (0..<shape.count).map { i in sinf(Float(i) * 0.37) * 2 + Float(i % 7) * 0.1 }
    }

    @Test("resizing equals F.interpolate, float32 and a bf16 plan", arguments: cases.indices)
    func resize(index: Int) throws {
        let c = Self.cases[index]
        let shape = Shape4(n: 2, c: 3, h: c.from.0, w: c.from.1)
        var b = GraphBuilder(input: shape)
        b.markOutput(b.resizeBilinear(b.graph.input, height: c.to.0, width: c.to.1, alignCorners: c.alignCorners))
        let input = Self.input(shape)
        let expected = try Self.pytorch(input, shape: shape, to: c.to, alignCorners: c.alignCorners)
        let scale = expected.map(abs).max()!
        for precision in [Precision.f32, .bf16] {
            let plan = try CPUBackend(threads: 2).compile(b.graph, weights: WeightStore(path: "none", tensors: [:]), precision: precision)
            let output = HostBuffer(count: plan.outputShapes[0].count)
            try plan.run(input: HostBuffer(input), outputs: [output])
            try #require(output.count == expected.count)
            let worst = zip(output.array, expected).map { abs(Double($0) - $1) }.max()!
            #expect(worst <= 1e-5 * scale, "\(c) \(precision): worst \(worst) of \(scale)")
        }
    }

    @Test("concatenation keeps each input's channels in order, between convolutions of either precision")
    func concat() throws {
        let shape = Shape4(n: 2, c: 3, h: 4, w: 5)
        var b = GraphBuilder(input: shape)
        // An identity convolution gives a value a primitive wrote; its copy is the second input.
        let copy = b.conv(b.graph.input, weight: "i.weight", outChannels: 3, kernel: 1)
        let half = b.resizeBilinear(copy, height: 4, width: 5)
        b.markOutput(b.concat([copy, half, copy]))
        var identity = [Float](repeating: 0, count: 9)
        for k in 0..<3 { identity[k * 3 + k] = 1 }
        let weights = WeightStore(path: "identity", tensors: ["i.weight": HostTensor(shape: [3, 3, 1, 1], values: identity)])
        let input = Self.input(shape)
        let plan = try CPUBackend(threads: 2).compile(b.graph, weights: weights, precision: .f32)
        let output = HostBuffer(count: plan.outputShapes[0].count)
        try plan.run(input: HostBuffer(input), outputs: [output])
        #expect(plan.outputShapes[0] == Shape4(n: 2, c: 9, h: 4, w: 5))
        let plane = 20
        for n in 0..<2 {
            for part in 0..<3 {
                let got = Array(output.array[((n * 9 + part * 3) * plane)..<((n * 9 + part * 3 + 3) * plane)])
                let want = Array(input[(n * 3 * plane)..<((n + 1) * 3 * plane)])
                #expect(zip(got, want).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }, "image \(n), part \(part)")
            }
        }
    }
}
