import Engine
import Foundation
import Models
import Results
import Weights

/// A classification network as a ``TileModel``: runs the compiled plan on each batch
/// (the plan normalises the pixels on its device), and reports each tile's top-1 class
/// and its softmax probability.
///
/// Every batch runs the full batch's plan, a short last batch padded with zeros: the
/// backends choose other kernels for other batch sizes (oneDNN's for one image differ
/// from its kernels for two in the last bits), and a tile's result must not depend on how
/// many tiles shared its batch, or a resumed run's results would differ from an
/// uninterrupted one's. Within one plan, each image's result is the same in any slot.
public final class ClassifierTileModel: TileModel {
    public typealias GraphBuilder = @Sendable (_ batch: Int, _ height: Int, _ width: Int) -> Graph

    private let backend: any Backend
    private let weights: WeightSupply
    private let precision: Precision
    private let makeGraph: GraphBuilder
    private let normalization: Normalization
    private let classes: Int
    private var plans: [PlanKey: any Plan] = [:]
    private var logits = HostBuffer(count: 0)

    public convenience init(
        backend: any Backend, weights: WeightStore, precision: Precision, classes: Int,
        normalization: Normalization, graph: @escaping GraphBuilder
    ) {
        self.init(
            backend: backend, weights: WeightSupply(weights), precision: precision, classes: classes, normalization: normalization,
            graph: graph)
    }

    public init(
        backend: any Backend, weights: WeightSupply, precision: Precision, classes: Int,
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
        plans.values.reduce(0) { $0 + $1.memoryBytes } + logits.byteCount
    }

    public func predict(_ batch: Batch) throws -> [TileOutput] {
        precondition(batch.encoding == .float32, "the network's plans take float tiles, not \(batch.encoding)")
        let n = batch.count, shape = batch.tileShape
        let plan = try plan(for: Shape4(n: batch.capacity, c: shape.channels, h: shape.height, w: shape.width))
        if n < batch.capacity {
            batch.pixels.withUnsafeMutableBufferPointer { pixels in
                pixels[(n * shape.elementCount)...].initialize(repeating: 0)
            }
        }
        if logits.count < batch.capacity * classes { logits = HostBuffer(count: batch.capacity * classes) }
        try plan.run(input: batch.pixels, outputs: [logits])
        return logits.withUnsafeBufferPointer { logits in (0..<n).map { i in Self.top1(logits[(i * classes)..<((i + 1) * classes)]) } }
    }

    /// Compiles the plan for full batches now, so the first batch's time is its own.
    public func prepare(batchSize: Int, tileShape: TileShape) throws {
        _ = try plan(for: Shape4(n: batchSize, c: tileShape.channels, h: tileShape.height, w: tileShape.width))
    }

    private func plan(for input: Shape4) throws -> any Plan {
        let key = PlanKey(input: input, precision: precision)
        if let plan = plans[key] { return plan }
        let graph = makeGraph(input.n, input.h, input.w).normalizingInput(mean: normalization.mean, std: normalization.std)
        let plan = try backend.compile(graph, weights: try weights.store(), precision: precision)
        plans[key] = plan
        return plan
    }

    /// The largest logit and its softmax probability, computed stably (max subtracted).
    static func top1(_ logits: Slice<UnsafeBufferPointer<Float>>) -> TileOutput {
        var best = logits.startIndex
        for i in logits.indices where logits[i] > logits[best] { best = i }
        let top = logits[best]
        var sum: Float = 0
        for v in logits { sum += expf(v - top) }
        return .classification(classIndex: best - logits.startIndex, score: 1 / sum)
    }
}
