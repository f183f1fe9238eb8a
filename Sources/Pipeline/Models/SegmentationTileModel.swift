import Foundation
import Engine
import Models
import Results
import Weights

/// A segmentation network as a ``TileModel``: runs the compiled plan on each batch (the
/// plan normalises the pixels on its device) and gives every pixel of each tile the
/// class with the largest logit (the first of equal ones, as `torch.argmax`).
///
/// As ``ClassifierTileModel``, every batch runs the full batch's plan, a short last batch
/// padded with zeros, so a tile's result never depends on how many tiles shared its batch.
public final class SegmentationTileModel: TileModel {
    private let backend: any Backend
    private let weights: WeightSupply
    private let precision: Precision
    private let network: any SegmentationNetwork
    private let normalization: Normalization
    private let keepsProbabilities: Bool
    private var plans: [PlanKey: any Plan] = [:]
    private var logits = HostBuffer(count: 0)

    public convenience init(
        backend: any Backend, weights: WeightStore, precision: Precision, network: any SegmentationNetwork, normalization: Normalization,
        keepsProbabilities: Bool = false
    ) {
        self.init(
            backend: backend, weights: WeightSupply(weights), precision: precision, network: network, normalization: normalization,
            keepsProbabilities: keepsProbabilities)
    }

    public init(
        backend: any Backend, weights: WeightSupply, precision: Precision, network: any SegmentationNetwork, normalization: Normalization,
        keepsProbabilities: Bool = false
    ) {
        (self.backend, self.weights, self.precision, self.network, self.normalization) = (backend, weights, precision, network, normalization)
        self.keepsProbabilities = keepsProbabilities
    }

    public var deviceBytes: Int { plans.values.reduce(0) { $0 + $1.memoryBytes } + logits.byteCount }

    public func predict(_ batch: Batch) throws -> [TileOutput] {
        precondition(batch.encoding == .float32, "the network's plans take float tiles, not \(batch.encoding)")
        let n = batch.count, shape = batch.tileShape
        let plan = try plan(for: Shape4(n: batch.capacity, c: shape.channels, h: shape.height, w: shape.width))
        if n < batch.capacity {
            batch.pixels.withUnsafeMutableBufferPointer { pixels in pixels[(n * shape.elementCount)...].initialize(repeating: 0) }
        }
        let out = plan.outputShapes[0]
        if logits.count < out.count { logits = HostBuffer(count: out.count) }
        try plan.run(input: batch.pixels, outputs: [logits])
        return logits.withUnsafeBufferPointer { logits in
            (0..<n).map { i in
                var map = Self.argmax(logits, image: i, shape: out)
                if keepsProbabilities { map.probabilities = Self.softmax(logits, image: i, shape: out) }
                // Where the raster holds no data the class raster says so, whatever the network made of it.
                if i < batch.missing.count, let missing = batch.missing[i] {
                    for p in missing.indices where missing[p] != 0 { map.ids[p] = ClassMap.missing }
                }
                return .segmentation(map)
            }
        }
    }

    /// Compiles the plan for full batches now, so the first batch's time is its own.
    public func prepare(batchSize: Int, tileShape: TileShape) throws {
        _ = try plan(for: Shape4(n: batchSize, c: tileShape.channels, h: tileShape.height, w: tileShape.width))
    }

    private func plan(for input: Shape4) throws -> any Plan {
        let key = PlanKey(input: input, precision: precision)
        if let plan = plans[key] { return plan }
        let graph = network.graph(batch: input.n, height: input.h, width: input.w)
            .normalizingInput(mean: normalization.mean, std: normalization.std)
        let plan = try backend.compile(graph, weights: try weights.store(), precision: precision)
        plans[key] = plan
        return plan
    }

    /// Per pixel of one image of NCHW logits, the index of the largest class (the first
    /// of equal ones). A NaN never wins.
    static func argmax(_ logits: UnsafeBufferPointer<Float>, image: Int, shape: Shape4) -> ClassMap {
        let plane = shape.h * shape.w
        let base = image * shape.c * plane
        var best = [Float](logits[base..<(base + plane)])
        var ids = [UInt16](repeating: 0, count: plane)
        for c in 1..<max(shape.c, 1) {
            let channel = base + c * plane
            for p in 0..<plane where logits[channel + p] > best[p] || best[p].isNaN {
                best[p] = logits[channel + p]
                ids[p] = UInt16(c)
            }
        }
        return ClassMap(width: shape.w, height: shape.h, ids: ids)
    }

    /// Per pixel of one image of NCHW logits, the softmax over classes, in the same
    /// layout (the largest logit subtracted first, so no exponent overflows).
    static func softmax(_ logits: UnsafeBufferPointer<Float>, image: Int, shape: Shape4) -> [Float] {
        let plane = shape.h * shape.w
        let base = image * shape.c * plane
        var largest = [Float](logits[base..<(base + plane)])
        for c in 1..<max(shape.c, 1) {
            let channel = base + c * plane
            for p in 0..<plane { largest[p] = max(largest[p], logits[channel + p]) }
        }
        var out = [Float](repeating: 0, count: shape.c * plane)
        var sum = [Float](repeating: 0, count: plane)
        for c in 0..<shape.c {
            let channel = base + c * plane
            for p in 0..<plane {
                let e = exp(logits[channel + p] - largest[p])
                out[c * plane + p] = e
                sum[p] += e
            }
        }
        for c in 0..<shape.c { for p in 0..<plane { out[c * plane + p] /= sum[p] } }
        return out
    }
}
