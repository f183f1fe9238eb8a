@testable import CPUBackend
import Engine
import Foundation
import Testing
import Weights

/// Winograd's F(2x2, 3x3) held to the convolution's definition computed in Double, on
/// maps with odd and even sides (partial edge tiles), two images, a bias, a residual and
/// ReLU, in each layout the transforms meet (oneDNN's channel blocks, and plain NHWC
/// where a host kernel reads the output). Tolerance: 2e-6 of the largest |output|
/// (float32 direct convolution is within about 1e-6 here; the data transforms only add);
/// in bf16, bf16's rounding, against oneDNN's direct bf16 convolution's.
@Suite("Winograd convolution")
struct WinogradTests {
    /// Fixed values spread over [-scale, scale] (no generator needed to repeat them).
    static func spread(_ count: Int, salt: Double, scale: Double = 0.1) -> [Float] {
        (0..<count).map { Float(scale * sin(Double($0) * 12.9898 + salt)) }
    }

    /// `torch.nn.functional.conv2d(x, w, b, padding=1)` in Double, NCHW, and per output the
    /// sum of its terms' magnitudes, |b| + sum |w x|, which rounding errors scale with.
    static func reference(_ x: [Float], _ shape: Shape4, _ w: [Float], _ b: [Float], outputs: Int)
        -> (y: [Double], magnitude: [Double])
    {
        var y = [Double](repeating: 0, count: shape.n * outputs * shape.h * shape.w)
        var magnitude = y
        for n in 0..<shape.n {
            for k in 0..<outputs {
                for oy in 0..<shape.h {
                    for ox in 0..<shape.w {
                        var sum = Double(b[k]), size = abs(Double(b[k]))
                        for c in 0..<shape.c {
                            for i in 0..<3 {
                                let iy = oy + i - 1
                                guard iy >= 0 && iy < shape.h else { continue }
                                for j in 0..<3 {
                                    let ix = ox + j - 1
                                    guard ix >= 0 && ix < shape.w else { continue }
                                    let term = Double(w[((k * shape.c + c) * 3 + i) * 3 + j]) * Double(x[((n * shape.c + c) * shape.h + iy) * shape.w + ix])
                                    sum += term
                                    size += abs(term)
                                }
                            }
                        }
                        y[((n * outputs + k) * shape.h + oy) * shape.w + ox] = sum
                        magnitude[((n * outputs + k) * shape.h + oy) * shape.w + ox] = size
                    }
                }
            }
        }
        return (y, magnitude)
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

    /// Case `c`'s graph (a 1x1 convolution, the 3x3 one with its residual, then GroupNorm
    /// where the case asks), weights and input; its output computed in Double, and per
    /// output the magnitude of the terms that make it.
    struct Problem {
        let graph: Graph, weights: WeightStore, input: [Float], expected: [Double], magnitude: [Double]
    }

    static func problem(_ c: Case) -> Problem {
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

        var (expected, magnitude) = Self.reference(input, shape, weights["w.weight"]!.values, weights["w.bias"]!.values, outputs: c.outputs)
        if c.residual {
            let r = weights["r.weight"]!.values, rb = weights["r.bias"]!.values, plane = c.height * c.width
            for n in 0..<2 {
                for k in 0..<c.outputs {
                    for p in 0..<plane {
                        var sum = Double(rb[k]), size = abs(Double(rb[k]))
                        for ch in 0..<c.channels {
                            let term = Double(r[k * c.channels + ch]) * Double(input[(n * c.channels + ch) * plane + p])
                            sum += term
                            size += abs(term)
                        }
                        expected[(n * c.outputs + k) * plane + p] += sum
                        magnitude[(n * c.outputs + k) * plane + p] += size
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
                let deviation = (variance + 1e-5).squareRoot()
                for i in (n * count)..<((n + 1) * count) {
                    expected[i] = (expected[i] - mean) / deviation
                    magnitude[i] /= deviation
                }
            }
        }
        #expect(expected.map(abs).max()! > 1 && expected.filter { $0 > 0 }.count > expected.count / 4,
                "the outputs should not be degenerate")
        return Problem(graph: b.graph, weights: weights, input: input, expected: expected, magnitude: magnitude)
    }

    /// The plan's output for the problem's input.
    static func output(_ problem: Problem, type: ElementType, winograd: Bool) throws -> [Float] {
        let plan = try CPUPlan(graph: problem.graph, weights: problem.weights, type: type, threads: 2, winograd: winograd)
        #expect(plan.winogradConvolutions == (winograd ? 1 : 0))
        let out = HostBuffer(count: problem.expected.count)
        try plan.run(input: HostBuffer(problem.input), outputs: [out])
        return out.array
    }

    @Test("F(2x2, 3x3) equals the convolution's definition in Double within 2e-6 of the largest output", arguments: cases)
    func matchesDefinition(_ c: Case) throws {
        let problem = Self.problem(c)
        let out = try Self.output(problem, type: .f32, winograd: true)
        let scale = problem.expected.map(abs).max()!
        let worst = zip(out, problem.expected).map { abs(Double($0) - $1) }.max()!
        #expect(worst <= 2e-6 * scale, "worst difference \(worst) of \(scale)")
    }

    /// In bf16 the inputs, the weights and the output are rounded to bf16 (8 significant
    /// bits), as oneDNN's direct bf16 convolution rounds them, and the transformed tiles
    /// too. Each output's error is bounded by bf16's rounding unit (2^-8) times the
    /// magnitude of the terms that make it (|b| + sum |w x|), times a factor that the
    /// transforms' sums and differences raise: at most 2 here, where the direct
    /// convolution's is at most 1 (measured: at most 0.63 and 0.29).
    @Test("in bf16, F(2x2, 3x3) errs within 2 units of bf16 rounding of its terms' magnitudes (the direct convolution within 1)",
          .enabled(if: GroupNormTests.nativeBF16, "needs native bf16 (AVX512-BF16 or AMX): bf16-mixed runs in float32 here"),
          arguments: cases)
    func bfloat16MatchesDefinition(_ c: Case) throws {
        let problem = Self.problem(c)
        func factor(_ out: [Float]) -> Double {
            zip(zip(out, problem.expected), problem.magnitude).map { pair, size in abs(Double(pair.0) - pair.1) / (size / 256) }.max()!
        }
        let winograd = factor(try Self.output(problem, type: .bf16, winograd: true))
        let direct = factor(try Self.output(problem, type: .bf16, winograd: false))
        #expect(direct > 0, "bf16 should round something")
        #expect(direct <= 1, "direct bf16: \(direct) units")
        #expect(winograd <= 2, "Winograd bf16: \(winograd) units; direct bf16 \(direct)")
    }

    @Test("a map of several chunks, shared out among threads, computes what oneDNN's direct convolution does (within 1e-5 of the largest output)")
    func chunks() throws {
        let (outputs, exact, _) = try Self.chunks(.f32)
        let scale = Double(exact.map(abs).max()!)
        for (threads, out) in outputs {
            let worst = zip(out, exact).map { Double(abs($0 - $1)) }.max()!
            #expect(worst <= 1e-5 * scale, "\(threads) threads: worst difference \(worst) of \(scale)")
        }
    }

    @Test("in bf16, a map of several chunks errs within 2 units of bf16 rounding of its terms' magnitudes",
          .enabled(if: GroupNormTests.nativeBF16, "needs native bf16 (AVX512-BF16 or AMX): bf16-mixed runs in float32 here"))
    func bfloat16Chunks() throws {
        let (outputs, exact, magnitude) = try Self.chunks(.bf16)
        for (threads, out) in outputs {
            let factor = zip(zip(out, exact), magnitude).map { pair, size in Double(abs(pair.0 - pair.1)) / Double(size / 256) }.max()!
            #expect(factor <= 2, "\(threads) threads: \(factor) units")
        }
    }

    /// A 64-channel map cut into chunks of two sizes: its output in `type` by Winograd on 8
    /// and on 3 threads, oneDNN's direct float32 one, and the magnitude of each output's
    /// terms (|b| + sum |w x|: the direct convolution of their absolute values).
    static func chunks(_ type: ElementType) throws -> (outputs: [(threads: Int, [Float])], exact: [Float], magnitude: [Float]) {
        let shape = Shape4(n: 1, c: 64, h: 97, w: 98)
        let geometry = WinogradConvolution.Geometry(input: shape, outputs: 64, type: type, threads: 8)
        #expect(geometry.chunks > 1 && geometry.rows(ofChunk: geometry.chunks - 1) != geometry.chunkTiles, "\(geometry)")
        #expect(geometry.productRows.count > 1, "\(geometry)")
        var b = GraphBuilder(input: shape)
        b.markOutput(b.conv(b.graph.input, weight: "w.weight", outChannels: 64, kernel: 3, padding: 1, bias: "w.bias", relu: true))
        let (weight, bias) = (Self.spread(64 * 64 * 9, salt: 1), Self.spread(64, salt: 2))
        let input = Self.spread(shape.count, salt: 3, scale: 10)
        func run(_ type: ElementType, winograd: Bool, threads: Int, absolute: Bool = false) throws -> [Float] {
            let weights = WeightStore(path: "test", tensors: [
                "w.weight": HostTensor(shape: [64, 64, 3, 3], values: absolute ? weight.map(abs) : weight),
                "w.bias": HostTensor(shape: [64], values: absolute ? bias.map(abs) : bias),
            ])
            let plan = try CPUPlan(graph: b.graph, weights: weights, type: type, threads: threads, winograd: winograd)
            #expect(plan.winogradConvolutions == (winograd ? 1 : 0))
            let out = HostBuffer(count: shape.count)
            try plan.run(input: HostBuffer(absolute ? input.map(abs) : input), outputs: [out])
            return out.array
        }
        let exact = try run(.f32, winograd: false, threads: 2)
        #expect(exact.map(abs).max()! > 1 && exact.filter { $0 > 0 }.count > exact.count / 4, "the outputs should not be degenerate")
        return (try [8, 3].map { ($0, try run(type, winograd: true, threads: $0)) }, exact,
                try run(.f32, winograd: false, threads: 2, absolute: true))
    }
}
