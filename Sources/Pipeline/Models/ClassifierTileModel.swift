import Engine
import Foundation
import Models
import Weights

/// A classification network as a ``TileModel``: normalises each batch, runs the compiled
/// plan, and reports each tile's top-1 class and its softmax probability.
///
/// Plans are compiled per batch size on first use (the full size, and the last short
/// batch's), so every batch runs a static plan without padding.
public final class ClassifierTileModel: TileModel {
    public typealias GraphBuilder = @Sendable (_ batch: Int, _ height: Int, _ width: Int) -> Graph

    private let backend: any Backend
    private let weights: WeightStore
    private let precision: Precision
    private let makeGraph: GraphBuilder
    private let normalization: Normalization
    private let classes: Int
    private var plans: [Int: any Plan] = [:]
    private var input: [Float] = []
    private var logits: [Float] = []

    public init(
        backend: any Backend, weights: WeightStore, precision: Precision, classes: Int,
        normalization: Normalization, graph: @escaping GraphBuilder
    ) {
        self.backend = backend
        self.weights = weights
        self.precision = precision
        self.classes = classes
        self.normalization = normalization
        self.makeGraph = graph
    }

    public var deviceBytes: Int {
        plans.values.reduce(0) { $0 + $1.memoryBytes } + (input.count + logits.count) * MemoryLayout<Float>.stride
    }

    public func predict(_ batch: Batch) throws -> [TileOutput] {
        let n = batch.count, shape = batch.tileShape
        let plan = try plan(for: n, height: shape.height, width: shape.width)
        if input.count < batch.capacity * shape.elementCount {
            input = [Float](repeating: 0, count: batch.capacity * shape.elementCount)
            logits = [Float](repeating: 0, count: batch.capacity * classes)
        }
        input.withUnsafeMutableBufferPointer {
            normalization.apply(batch.storage.baseAddress!, to: $0.baseAddress!, images: n, plane: shape.height * shape.width)
        }
        try logits.withUnsafeMutableBufferPointer { out in
            try input.withUnsafeBufferPointer { try plan.run(input: $0.baseAddress!, outputs: [out.baseAddress!]) }
        }
        return (0..<n).map { i in Self.top1(logits[(i * classes)..<((i + 1) * classes)]) }
    }

    /// Compiles the plan for full batches now, so the first batch's time is its own.
    public func prepare(batchSize: Int, tileShape: TileShape) throws {
        _ = try plan(for: batchSize, height: tileShape.height, width: tileShape.width)
    }

    private func plan(for n: Int, height: Int, width: Int) throws -> any Plan {
        if let plan = plans[n] { return plan }
        let plan = try backend.compile(makeGraph(n, height, width), weights: weights, precision: precision)
        plans[n] = plan
        return plan
    }

    /// The largest logit and its softmax probability, computed stably (max subtracted).
    static func top1(_ logits: ArraySlice<Float>) -> TileOutput {
        var best = logits.startIndex
        for i in logits.indices where logits[i] > logits[best] { best = i }
        let top = logits[best]
        var sum: Float = 0
        for v in logits { sum += expf(v - top) }
        return .classification(classIndex: best - logits.startIndex, score: 1 / sum)
    }
}
