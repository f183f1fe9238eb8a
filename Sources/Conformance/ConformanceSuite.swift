import Engine
import Foundation
import Tiling
import Weights

/// Every op the models use, each in a small graph, run on a backend and held to the CPU
/// backend in float32 on the same weights and inputs. A backend passes a case when its
/// largest difference is within the case's tolerance for its precision, relative to the
/// largest magnitude of the reference (float32 within 1e-4, TF32 5e-3, float16 1e-2,
/// bfloat16 6e-2).
public enum ConformanceSuite {
    public struct Case: Sendable {
        public let name: String
        public let graph: Graph
    }

    /// The precisions a backend is checked in, with their tolerances.
    public struct Mode: Sendable, CustomStringConvertible {
        public let precision: Precision
        public let label: String
        public let tolerance: Double
        public var description: String { label }
        public init(precision: Precision, label: String, tolerance: Double) {
            (self.precision, self.label, self.tolerance) = (precision, label, tolerance)
        }
    }

    public struct Outcome: Sendable {
        public let caseName: String
        public let mode: String
        /// Largest |backend - reference| over the largest |reference|.
        public let error: Double
        public let tolerance: Double
        public var passed: Bool { error <= tolerance }
    }

    public static let cases: [Case] = {
        func graph(_ input: Shape4, _ build: (inout GraphBuilder, Graph.Value) -> Graph.Value) -> Graph {
            var b = GraphBuilder(input: input)
            b.markOutput(build(&b, b.graph.input))
            return b.graph
        }
        func bn(_ p: String) -> Graph.BatchNorm { Graph.BatchNorm(prefix: p, eps: 1e-5) }
        let s = Shape4(n: 2, c: 16, h: 20, w: 20)
        return [
            Case(name: "conv 3x3 + BatchNorm + ReLU", graph: graph(s) { b, x in
                b.conv(x, weight: "c.weight", outChannels: 32, kernel: 3, padding: 1, batchNorm: bn("c.bn"), relu: true) }),
            Case(name: "conv 7x7 stride 2 (stem)", graph: graph(Shape4(n: 2, c: 3, h: 33, w: 31)) { b, x in
                b.conv(x, weight: "c.weight", outChannels: 64, kernel: 7, stride: 2, padding: 3, batchNorm: bn("c.bn"), relu: true) }),
            Case(name: "conv 1x1 stride 2 + BatchNorm", graph: graph(s) { b, x in
                b.conv(x, weight: "c.weight", outChannels: 24, kernel: 1, stride: 2, batchNorm: bn("c.bn")) }),
            Case(name: "conv + residual + ReLU", graph: graph(s) { b, x in
                let y = b.conv(x, weight: "a.weight", outChannels: 16, kernel: 3, padding: 1, batchNorm: bn("a.bn"), relu: true)
                return b.conv(y, weight: "b.weight", outChannels: 16, kernel: 3, padding: 1, batchNorm: bn("b.bn"), residual: x, relu: true) }),
            Case(name: "conv 3x3 dilation 2 + bias", graph: graph(s) { b, x in
                b.conv(x, weight: "c.weight", outChannels: 8, kernel: 3, padding: 2, dilation: 2, bias: "c.bias") }),
            Case(name: "max pool 3x3 stride 2 pad 1", graph: graph(s) { b, x in b.pool(.max, x, kernel: 3, stride: 2, padding: 1) }),
            Case(name: "global average pool", graph: graph(s) { b, x in b.globalAveragePool(x) }),
            Case(name: "linear over a feature map", graph: graph(Shape4(n: 3, c: 16, h: 5, w: 5)) { b, x in
                b.linear(x, weight: "fc.weight", bias: "fc.bias", outFeatures: 10) }),
            Case(name: "linear + ReLU, linear", graph: graph(Shape4(n: 4, c: 32, h: 1, w: 1)) { b, x in
                let h = b.linear(x, weight: "a.weight", bias: "a.bias", outFeatures: 64, relu: true)
                return b.linear(h, weight: "b.weight", bias: "b.bias", outFeatures: 7) }),
            Case(name: "upsample x2 + lateral (FPN)", graph: graph(Shape4(n: 2, c: 16, h: 8, w: 8)) { b, x in
                let coarse = b.conv(x, weight: "t.weight", outChannels: 16, kernel: 3, stride: 2, padding: 1, bias: "t.bias")
                let up = b.upsampleNearest(coarse, factor: 2)
                return b.conv(x, weight: "l.weight", outChannels: 16, kernel: 1, bias: "l.bias", residual: up) }),
            Case(name: "GroupNorm(8) + ReLU", graph: graph(s) { b, x in
                b.groupNorm(x, groups: 8, prefix: "g", relu: true) }),
            Case(name: "bilinear resize x8 (segmentation logits)", graph: graph(Shape4(n: 2, c: 5, h: 7, w: 6)) { b, x in
                b.resizeBilinear(x, height: 56, width: 48) }),
            Case(name: "bilinear resize, align_corners, to 13x29", graph: graph(s) { b, x in
                b.resizeBilinear(x, height: 13, width: 29, alignCorners: true) }),
            Case(name: "image pooling broadcast + concat (ASPP)", graph: graph(s) { b, x in
                let pooled = b.globalAveragePool(x)
                let p = b.conv(pooled, weight: "p.weight", outChannels: 8, kernel: 1, batchNorm: bn("p.bn"), relu: true)
                let broadcast = b.resizeBilinear(p, height: s.h, width: s.w)
                let branch = b.conv(x, weight: "a.weight", outChannels: 8, kernel: 3, padding: 2, dilation: 2, batchNorm: bn("a.bn"), relu: true)
                return b.conv(b.concat([branch, broadcast]), weight: "j.weight", outChannels: 8, kernel: 1, batchNorm: bn("j.bn"), relu: true) }),
            Case(name: "upsample x2 + concat with a residual skip (U-Net)", graph: graph(s) { b, x in
                let y = b.conv(x, weight: "a.weight", outChannels: 16, kernel: 3, padding: 1, batchNorm: bn("a.bn"), residual: x, relu: true)
                let down = b.conv(y, weight: "d.weight", outChannels: 32, kernel: 3, stride: 2, padding: 1, batchNorm: bn("d.bn"), relu: true)
                let up = b.upsampleNearest(down, factor: 2)
                return b.conv(b.concat([up, y]), weight: "c.weight", outChannels: 8, kernel: 3, padding: 1, batchNorm: bn("c.bn"), relu: true) }),
            Case(name: "input normalisation + conv", graph: graph(Shape4(n: 2, c: 3, h: 16, w: 16)) { b, x in
                b.conv(x, weight: "c.weight", outChannels: 8, kernel: 3, padding: 1, bias: "c.bias") }
                .normalizingInput(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])),
        ]
    }()

    /// Weights for `graph` drawn from a fixed seed: convolution weights at He scale,
    /// biases and BatchNorm statistics away from their identities, so every term counts.
    public static func weights(for graph: Graph, seed: UInt64 = 7) -> WeightStore {
        var random = SplitMix(seed)
        var tensors: [String: HostTensor] = [:]
        for (name, shape) in graph.parameters.sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
            let values: [Float] = (0..<count).map { _ in
                let u = random.uniform()
                if name.hasSuffix("running_var") { return 0.5 + u }
                if name.hasSuffix("running_mean") { return u - 0.5 }
                if shape.count == 1 && name.hasSuffix(".weight") { return 0.75 + 0.5 * u }
                if shape.count == 1 { return 0.2 * (u - 0.5) }
                return (2 * u - 1) * (3 / Float(fanIn)).squareRoot()
            }
            tensors[name] = HostTensor(shape: shape, values: values)
        }
        return WeightStore(path: "(conformance)", tensors: tensors)
    }

    /// An input for `graph`: smooth patterns plus noise, pixels in [0, 1] where the graph
    /// normalises its input, else centred features.
    public static func input(for graph: Graph, seed: UInt64 = 11) -> [Float] {
        var random = SplitMix(seed)
        let s = graph.shape(of: graph.input)
        let offset: Float = graph.inputScaling == nil ? -0.5 : 0
        return (0..<s.count).map { i in
            let x = Float(i % s.w) / Float(s.w), y = Float(i / s.w % s.h) / Float(s.h)
            return 0.5 + 0.3 * sinf(6 * x + 4 * y + Float(i / (s.h * s.w))) + 0.2 * (random.uniform() - 0.5) + offset
        }
    }

    /// Runs `graph` on `backend` and returns its first output.
    public static func run(_ graph: Graph, on backend: any Backend, precision: Precision, weights: WeightStore) throws -> [Float] {
        let plan = try backend.compile(graph, weights: weights, precision: precision)
        let output = HostBuffer([Float](repeating: .nan, count: plan.outputShapes[0].count))
        try plan.run(input: HostBuffer(Self.input(for: graph)), outputs: [output])
        return output.array
    }

    /// Every case on `backend` in each of `modes`, against `reference` (the CPU backend) in float32.
    public static func check(_ backend: any Backend, modes: [Mode], reference: any Backend) throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for c in cases {
            let weights = weights(for: c.graph)
            let expected = try run(c.graph, on: reference, precision: .f32, weights: weights)
            let scale = expected.reduce(0) { max($0, Double(abs($1))) }
            for mode in modes {
                let got = try run(c.graph, on: backend, precision: mode.precision, weights: weights)
                var worst = 0.0
                for (a, b) in zip(got, expected) {
                    let d = a.isFinite ? Double(abs(a - b)) : .infinity
                    worst = max(worst, d)
                }
                outcomes.append(Outcome(caseName: c.name, mode: mode.label, error: worst / max(scale, 1e-30), tolerance: mode.tolerance))
            }
        }
        return outcomes
    }

    /// The outcomes as a table, one row per case and mode.
    public static func table(_ outcomes: [Outcome], backend: String) -> String {
        var lines = ["conformance of \(backend) against the CPU backend (float32):"]
        for o in outcomes {
            lines.append(String(format: "  %@ %-32@ %-10@ error %.2e (tolerance %.0e)",
                                o.passed ? "ok  " : "FAIL", o.caseName, o.mode, o.error, o.tolerance))
        }
        let failed = outcomes.filter { !$0.passed }.count
        lines.append("  \(outcomes.count - failed) of \(outcomes.count) passed")
        return lines.joined(separator: "\n") + "\n"
    }
}
