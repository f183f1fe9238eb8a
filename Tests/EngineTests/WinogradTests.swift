@testable import CPUBackend
import Engine
import Foundation
import Testing
import Weights

/// Winograd's F(2x2, 3x3) held to the convolution's definition computed in Double, on
/// maps with odd and even sides (partial edge tiles), two images, a bias, a residual and
/// ReLU, in each layout the transforms meet (oneDNN's channel blocks, and plain NHWC
/// where a host kernel reads the output). Tolerance: 2e-6 of the largest |output|
/// (float32 direct convolution is within about 1e-6 here; the data transforms only add).
@Suite("Winograd convolution")
struct WinogradTests {
    /// Fixed values spread over [-scale, scale] (no generator needed to repeat them).
    static func spread(_ count: Int, salt: Double, scale: Double = 0.1) -> [Float] {
        (0..<count).map { Float(scale * sin(Double($0) * 12.9898 + salt)) }
    }

    /// `torch.nn.functional.conv2d(x, w, b, padding=1)` in Double, NCHW.
    static func reference(_ x: [Float], _ shape: Shape4, _ w: [Float], _ b: [Float], outputs: Int) -> [Double] {
        var y = [Double](repeating: 0, count: shape.n * outputs * shape.h * shape.w)
        for n in 0..<shape.n {
            for k in 0..<outputs {
                for oy in 0..<shape.h {
                    for ox in 0..<shape.w {
                        var sum = Double(b[k])
                        for c in 0..<shape.c {
                            for i in 0..<3 {
                                let iy = oy + i - 1
                                guard iy >= 0 && iy < shape.h else { continue }
                                for j in 0..<3 {
                                    let ix = ox + j - 1
                                    guard ix >= 0 && ix < shape.w else { continue }
                                    sum += Double(w[((k * shape.c + c) * 3 + i) * 3 + j]) * Double(x[((n * shape.c + c) * shape.h + iy) * shape.w + ix])
                                }
                            }
                        }
                        y[((n * outputs + k) * shape.h + oy) * shape.w + ox] = sum
                    }
                }
            }
        }
        return y
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let channels: Int, outputs: Int, height: Int, width: Int
        /// Where the output goes: a GroupNorm reads it (so it is plain NHWC), or it is the
        /// graph's output.
        let normalised: Bool
        let residual: Bool
        var testDescription: String {
            "\(channels)->\(outputs) on \(height)x\(width)\(normalised ? ", NHWC" : "")\(residual ? ", residual" : "")"
        }
    }

    static let cases = [
        Case(channels: 16, outputs: 32, height: 13, width: 10, normalised: false, residual: false),
        Case(channels: 32, outputs: 16, height: 8, width: 7, normalised: false, residual: true),
        Case(channels: 24, outputs: 8, height: 9, width: 12, normalised: true, residual: false),
        Case(channels: 64, outputs: 64, height: 1, width: 5, normalised: false, residual: false),
    ]

    @Test("F(2x2, 3x3) equals the convolution's definition in Double within 2e-6 of the largest output", arguments: cases)
    func matchesDefinition(_ c: Case) throws {
        let shape = Shape4(n: 2, c: c.channels, h: c.height, w: c.width)
        var b = GraphBuilder(input: shape)
        // A 1x1 convolution first, so the Winograd one reads a value a primitive wrote.
        let x = b.conv(b.graph.input, weight: "a.weight", outChannels: c.channels, kernel: 1, bias: "a.bias")
        let residual = c.residual ? b.conv(x, weight: "r.weight", outChannels: c.outputs, kernel: 1, bias: "r.bias") : nil
        let y = b.conv(x, weight: "w.weight", outChannels: c.outputs, kernel: 3, padding: 1, bias: "w.bias", residual: residual, relu: true)
        b.markOutput(c.normalised ? b.groupNorm(y, groups: 1, prefix: "gn") : y)

        let identity = (0..<c.channels * c.channels).map { $0 % (c.channels + 1) == 0 ? Float(1) : 0 }
        let weights = WeightStore(path: "test", tensors: [
            "a.weight": HostTensor(shape: [c.channels, c.channels, 1, 1], values: identity),
            "a.bias": HostTensor(shape: [c.channels], values: [Float](repeating: 0, count: c.channels)),
            "r.weight": HostTensor(shape: [c.outputs, c.channels, 1, 1], values: Self.spread(c.outputs * c.channels, salt: 4)),
            "r.bias": HostTensor(shape: [c.outputs], values: Self.spread(c.outputs, salt: 5)),
            "w.weight": HostTensor(shape: [c.outputs, c.channels, 3, 3], values: Self.spread(c.outputs * c.channels * 9, salt: 1)),
            "w.bias": HostTensor(shape: [c.outputs], values: Self.spread(c.outputs, salt: 2)),
            "gn.weight": HostTensor(shape: [c.outputs], values: [Float](repeating: 1, count: c.outputs)),
            "gn.bias": HostTensor(shape: [c.outputs], values: [Float](repeating: 0, count: c.outputs)),
        ])
        let input = Self.spread(shape.count, salt: 3, scale: 10)
        let plan = try CPUBackend(threads: 2).plan(b.graph, weights: weights, precision: .f32)
        #expect(plan.winogradConvolutions == 1)
        let out = HostBuffer(count: 2 * c.outputs * c.height * c.width)
        try plan.run(input: HostBuffer(input), outputs: [out])

        var expected = Self.reference(input, shape, weights["w.weight"]!.values, weights["w.bias"]!.values, outputs: c.outputs)
        if c.residual {
            let r = weights["r.weight"]!.values, rb = weights["r.bias"]!.values, plane = c.height * c.width
            for n in 0..<2 {
                for k in 0..<c.outputs {
                    for p in 0..<plane {
                        var sum = Double(rb[k])
                        for ch in 0..<c.channels { sum += Double(r[k * c.channels + ch]) * Double(input[(n * c.channels + ch) * plane + p]) }
                        expected[(n * c.outputs + k) * plane + p] += sum
                    }
                }
            }
        }
        expected = expected.map { max($0, 0) }
        if c.normalised {
            // GroupNorm of one group, per image: (y - mean) / std.
            let count = c.outputs * c.height * c.width
            for n in 0..<2 {
                let image = expected[(n * count)..<((n + 1) * count)]
                let mean = image.reduce(0, +) / Double(count)
                let variance = image.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count)
                for i in (n * count)..<((n + 1) * count) { expected[i] = (expected[i] - mean) / (variance + 1e-5).squareRoot() }
            }
        }
        let scale = expected.map(abs).max()!
        let worst = zip(out.array, expected).map { abs(Double($0) - $1) }.max()!
        #expect(scale > 1 && expected.filter { $0 > 0 }.count > expected.count / 4, "the outputs should not be degenerate")
        #expect(worst <= 2e-6 * scale, "worst difference \(worst) of \(scale)")
    }

    @Test("a bf16 plan runs its convolutions as oneDNN's direct bf16 primitives",
          .enabled(if: GroupNormTests.nativeBF16, "needs native bf16 (AVX512-BF16 or AMX): bf16-mixed runs in float32 here"))
    func bfloat16Direct() throws {
        var b = GraphBuilder(input: Shape4(n: 1, c: 16, h: 8, w: 8))
        b.markOutput(b.conv(b.graph.input, weight: "w.weight", outChannels: 16, kernel: 3, padding: 1, bias: "w.bias"))
        let weights = WeightStore(path: "test", tensors: [
            "w.weight": HostTensor(shape: [16, 16, 3, 3], values: Self.spread(16 * 16 * 9, salt: 1)),
            "w.bias": HostTensor(shape: [16], values: Self.spread(16, salt: 2)),
        ])
        #expect(try CPUPlan(graph: b.graph, weights: weights, type: .bf16, threads: 1).winogradConvolutions == 0)
        #expect(try CPUPlan(graph: b.graph, weights: weights, type: .f32, threads: 1).winogradConvolutions == 1)
    }

    @Test("a map of several chunks, shared out among threads, computes what oneDNN's direct convolution does (within 1e-5 of the largest output)")
    func chunks() throws {
        let shape = Shape4(n: 1, c: 64, h: 97, w: 96)
        let geometry = WinogradConvolution.Geometry(input: shape, outputs: 64, threads: 8)
        #expect(geometry.chunks > 1 && geometry.rows(ofChunk: geometry.chunks - 1) != geometry.chunkTiles, "\(geometry)")
        #expect(geometry.productRows.count > 1, "\(geometry)")
        var b = GraphBuilder(input: shape)
        b.markOutput(b.conv(b.graph.input, weight: "w.weight", outChannels: 64, kernel: 3, padding: 1, bias: "w.bias", relu: true))
        let weights = WeightStore(path: "test", tensors: [
            "w.weight": HostTensor(shape: [64, 64, 3, 3], values: Self.spread(64 * 64 * 9, salt: 1)),
            "w.bias": HostTensor(shape: [64], values: Self.spread(64, salt: 2)),
        ])
        let input = HostBuffer(Self.spread(shape.count, salt: 3, scale: 10))
        var outputs: [[Float]] = []
        for (winograd, threads) in [(true, 8), (true, 3), (false, 2)] {
            let plan = try CPUPlan(graph: b.graph, weights: weights, type: .f32, threads: threads, winograd: winograd)
            #expect(plan.winogradConvolutions == (winograd ? 1 : 0))
            let out = HostBuffer(count: shape.count)
            try plan.run(input: input, outputs: [out])
            outputs.append(out.array)
        }
        let scale = Double(outputs[2].map(abs).max()!)
        #expect(scale > 1)
        for k in 0..<2 {
            let worst = zip(outputs[k], outputs[2]).map { Double(abs($0 - $1)) }.max()!
            #expect(worst <= 1e-5 * scale, "run \(k): worst difference \(worst) of \(scale)")
        }
    }
}
