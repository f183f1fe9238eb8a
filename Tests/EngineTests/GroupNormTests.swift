import Foundation
import Testing
import Weights
@testable import CPUBackend
@testable import Engine

/// GroupNorm runs as mgpr's own kernel between oneDNN primitives (oneDNN 3.2 has none; 3.3 added one):
/// held here to the definition, computed in Double, on values with a large mean (where
/// summing in float32 would lose the variance), in f32 and in a bf16 plan.
@Suite("GroupNorm kernel")
struct GroupNormTests {
    /// A 1x1 convolution (identity weights, a per-channel offset) feeding GroupNorm + ReLU,
    /// so the kernel reads a value a primitive wrote, as it does in RetinaNet v2's head.
    func graphAndWeights(channels: Int, groups: Int) -> (Graph, WeightStore) {
        var b = GraphBuilder(input: Shape4(n: 2, c: channels, h: 5, w: 7))
        let x = b.conv(b.graph.input, weight: "conv.weight", outChannels: channels, kernel: 1, bias: "conv.bias")
        b.markOutput(b.groupNorm(x, groups: groups, prefix: "gn", eps: 1e-5, relu: true))
        var identity = [Float](repeating: 0, count: channels * channels)
        for c in 0..<channels { identity[c * channels + c] = 1 }
        let weights = WeightStore(path: "test", tensors: [
            "conv.weight": HostTensor(shape: [channels, channels, 1, 1], values: identity),
            "conv.bias": HostTensor(shape: [channels], values: (0..<channels).map { 100 + Float($0) }),
            "gn.weight": HostTensor(shape: [channels], values: (0..<channels).map { 0.5 + Float($0 % 5) / 4 }),
            "gn.bias": HostTensor(shape: [channels], values: (0..<channels).map { Float($0 % 3) - 1 }),
        ])
        return (b.graph, weights)
    }

    /// nn.GroupNorm then ReLU, in Double, on NCHW input plus the convolution's offsets.
    func expected(_ input: [Float], weights: WeightStore, channels: Int, groups: Int) -> [Double] {
        let hw = 35, per = channels / groups
        var out = [Double](repeating: 0, count: input.count)
        for n in 0..<2 {
            for g in 0..<groups {
                let indices = (g * per..<(g + 1) * per).flatMap { c in (0..<hw).map { (c, n * channels * hw + c * hw + $0) } }
                let values = indices.map { Double(input[$0.1]) + 100 + Double($0.0) }
                let mean = values.reduce(0, +) / Double(values.count)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
                for ((c, i), v) in zip(indices, values) {
                    let y = (v - mean) / (variance + 1e-5).squareRoot() * Double(weights["gn.weight"]!.values[c])
                        + Double(weights["gn.bias"]!.values[c])
                    out[i] = max(y, 0)
                }
            }
        }
        return out
    }

    @Test("matches nn.GroupNorm + ReLU in f32 (within 2e-5)")
    func float32() throws { try matchesDefinition(precision: .f32, tolerance: 2e-5) }

    /// oneDNN computes bf16 convolutions only where the CPU has native bf16 (or where
    /// DNNL_MAX_CPU_ISA allows it); elsewhere mgpr runs bf16-mixed in float32.
    static let nativeBF16 = CPUBackend(threads: 1).resolve(.bf16).0 == .bf16

    @Test("matches it in a bf16 plan, within bf16's rounding of its input",
          .enabled(if: nativeBF16, "needs native bf16 (AVX512-BF16 or AMX): bf16-mixed runs in float32 here"))
    func bfloat16() throws { try matchesDefinition(precision: .bf16, tolerance: 2e-2) }

    func matchesDefinition(precision: Precision, tolerance: Double) throws {
        let channels = 64, groups = 32
        let (graph, weights) = graphAndWeights(channels: channels, groups: groups)
        let input = (0..<(2 * channels * 35)).map { Float(sin(Double($0) * 0.37)) * 3 }
        let plan = try CPUBackend(threads: 2).compile(graph, weights: weights, precision: precision)
        let out = HostBuffer([Float](repeating: .nan, count: input.count))
        try plan.run(input: HostBuffer(input), outputs: [out])
        let output = out.array
        let reference = expected(input, weights: weights, channels: channels, groups: groups)
        let worst = zip(output, reference).map { abs(Double($0) - $1) }.max()!
        #expect(reference.contains { $0 > 1 } && reference.contains { $0 == 0 }, "ReLU should both pass and cut values")
        #expect(worst <= tolerance, "worst difference \(worst)")
    }
}
