import Foundation
import Testing
import Weights
@testable import CPUBackend
@testable import Engine
import Models

@Suite("Engine")
struct EngineTests {
    @Test("values alive at the same time never share bytes; values that are not may")
    func arenaPlanning() {
        let requests = [
            ArenaPlanner.Request(size: 100, first: 0, last: 1),
            ArenaPlanner.Request(size: 100, first: 1, last: 2),
            ArenaPlanner.Request(size: 100, first: 2, last: 3),
            ArenaPlanner.Request(size: 50, first: 0, last: 3),
        ]
        let (offsets, size) = ArenaPlanner.plan(requests, alignment: 64)
        for i in requests.indices {
            for j in requests.indices where i < j {
                let a = requests[i], b = requests[j]
                guard a.first <= b.last && b.first <= a.last else { continue }
                let aEnd = offsets[i] + (a.size + 63) / 64 * 64, bEnd = offsets[j] + (b.size + 63) / 64 * 64
                #expect(offsets[i] >= bEnd || offsets[j] >= aEnd, "requests \(i) and \(j) overlap in time and in memory")
            }
        }
        // 0 and 2 never live together: three 128-byte slots would be wasteful.
        #expect(offsets[0] == offsets[2])
        #expect(size == 128 * 2 + 64)
    }

    @Test("ResNet50's graph has torchvision's shapes and parameters")
    func resnet50Shapes() {
        let graph = ResNet50.graph(batch: 2, height: 224, width: 224, classes: 1000)
        #expect(graph.parameters.count == 267)  // 320 state_dict entries less 53 num_batches_tracked
        #expect(graph.parameters["layer3.0.downsample.0.weight"] == [1024, 512, 1, 1])
        #expect(graph.parameters["fc.weight"] == [1000, 2048])
        #expect(graph.shape(of: graph.outputs[0]) == Shape4(n: 2, c: 1000, h: 1, w: 1))
        let odd = ResNet50.graph(batch: 1, height: 300, width: 200, classes: 5)
        #expect(odd.shape(of: odd.outputs[0]) == Shape4(n: 1, c: 5, h: 1, w: 1))
    }

    @Test("folding BatchNorm gives the same affine map as conv then BatchNorm")
    func batchNormFolding() {
        let weights = WeightStore(path: "test", tensors: [
            "bn.weight": HostTensor(shape: [2], values: [2, 0.5]),
            "bn.bias": HostTensor(shape: [2], values: [1, -1]),
            "bn.running_mean": HostTensor(shape: [2], values: [3, 0]),
            "bn.running_var": HostTensor(shape: [2], values: [4, 0.25]),
        ])
        let folded = BatchNormFolding.fold(
            weight: [1, 2, 3, 4], bias: [0.5, 0], outChannels: 2,
            batchNorm: Graph.BatchNorm(prefix: "bn", eps: 0), weights: weights)
        // scale = gamma / sqrt(var + eps): 2 / 2 = 1 and 0.5 / 0.5 = 1, so weights stay.
        #expect(folded.weight == [1, 2, 3, 4])
        #expect(folded.bias == [-1.5, -1])  // beta + (b - mean) * scale
        let scaled = BatchNormFolding.fold(
            weight: [1, 1], bias: nil, outChannels: 2, batchNorm: Graph.BatchNorm(prefix: "bn", eps: 12),
            weights: weights)
        #expect(scaled.weight == [0.5, 0.5 / Float(12.25).squareRoot()])
    }

    @Test("a tiny graph runs on oneDNN as a hand computation says")
    func tinyGraph() throws {
        var b = GraphBuilder(input: Shape4(n: 1, c: 1, h: 4, w: 4))
        let x = b.conv(b.graph.input, weight: "c.weight", outChannels: 1, kernel: 3, padding: 1, bias: "c.bias", relu: true)
        let p = b.pool(.max, x, kernel: 2, stride: 2)
        let y = b.linear(p, weight: "l.weight", bias: "l.bias", outFeatures: 1)
        b.markOutput(y)
        let weights = WeightStore(path: "test", tensors: [
            "c.weight": HostTensor(shape: [1, 1, 3, 3], values: [0, 0, 0, 0, 1, 0, 0, 0, 0]),  // identity
            "c.bias": HostTensor(shape: [1], values: [-5]),
            "l.weight": HostTensor(shape: [1, 4], values: [1, 10, 100, 1000]),
            "l.bias": HostTensor(shape: [1], values: [0.5]),
        ])
        let plan = try CPUBackend(threads: 1).compile(b.graph, weights: weights, precision: .f32)
        let input: [Float] = Array(0..<16).map(Float.init)  // relu(x - 5), then 2x2 max: [0, 2, 8, 10]
        let out = HostBuffer([0])
        try plan.run(input: HostBuffer(input), outputs: [out])
        #expect(out.array == [0 + 20 + 800 + 10000 + 0.5])
    }
}

@Suite("Plan memory")
struct PlanMemoryTests {
    /// A convolution of 16 channels run on a map and on its max-pooled half, with
    /// `first` and `second` the keys each reads.
    static func twoMaps(first: String, second: String) -> Graph {
        var b = GraphBuilder(input: Shape4(n: 1, c: 16, h: 32, w: 32))
        let x = b.graph.input
        let half = b.pool(.max, x, kernel: 2, stride: 2)
        b.markOutput(b.conv(x, weight: "\(first).weight", outChannels: 16, kernel: 3, padding: 1, bias: "\(first).bias", relu: true))
        b.markOutput(b.conv(half, weight: "\(second).weight", outChannels: 16, kernel: 3, padding: 1, bias: "\(second).bias", relu: true))
        return b.graph
    }

    @Test("a convolution run on several maps keeps one packed copy of its weights, and computes as two copies do (f32)")
    func sharedWeightsFloat32() throws { try sharedWeights(precision: .f32) }

    @Test("a convolution run on several maps keeps one packed copy of its weights, and computes as two copies do (bf16)",
          .enabled(if: GroupNormTests.nativeBF16, "needs native bf16 (AVX512-BF16 or AMX): bf16-mixed runs in float32 here"))
    func sharedWeightsBFloat16() throws { try sharedWeights(precision: .bf16) }

    func sharedWeights(precision: Precision) throws {
        // Fixed values spread over [-0.1, 0.1] (no generator needed to repeat them).
        func spread(_ count: Int, salt: Double) -> [Float] { (0..<count).map { Float(0.1 * sin(Double($0) * 12.9898 + salt)) } }
        let (weight, bias) = (spread(16 * 16 * 9, salt: 1), spread(16, salt: 2))
        var tensors: [String: HostTensor] = [:]
        for key in ["shared", "first", "second"] {
            tensors["\(key).weight"] = HostTensor(shape: [16, 16, 3, 3], values: weight)
            tensors["\(key).bias"] = HostTensor(shape: [16], values: bias)
        }
        let weights = WeightStore(path: "test", tensors: tensors)
        let backend = CPUBackend(threads: 1)
        let shared = try backend.plan(Self.twoMaps(first: "shared", second: "shared"), weights: weights, precision: precision)
        let separate = try backend.plan(Self.twoMaps(first: "first", second: "second"), weights: weights, precision: precision)
        let packed = 16 * 16 * 9 * (precision == .f32 ? 4 : 2)
        #expect(separate.memoryBytes - shared.memoryBytes >= packed, "one packed copy fewer")

        let input = HostBuffer(spread(16 * 32 * 32, salt: 3).map { $0 * 10 + 1 })
        let outputs = [(shared, [HostBuffer(count: 16 * 32 * 32), HostBuffer(count: 16 * 16 * 16)]),
                       (separate, [HostBuffer(count: 16 * 32 * 32), HostBuffer(count: 16 * 16 * 16)])]
        for (plan, buffers) in outputs { try plan.run(input: input, outputs: buffers) }
        for k in 0..<2 {
            #expect(outputs[0].1[k].array == outputs[1].1[k].array, "output \(k)")
            #expect(outputs[0].1[k].array.contains { $0 > 0 }, "output \(k) should not be all zeros")
        }
    }
}
