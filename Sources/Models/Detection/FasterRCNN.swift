import Engine
import Foundation
import Weights

/// torchvision's fasterrcnn_resnet50_fpn (v1) at inference, on CPU plans: the transform,
/// the convolutional backbone, FPN and RPN head (one plan), proposals per image (anchors,
/// top-n per level, NMS), MultiScaleRoIAlign, the box head and predictor (a second plan
/// over a fixed maximum of proposals, padded), and torchvision's post-processing.
public final class FasterRCNN {
    public let settings: DetectorSettings
    public let classes: Int
    private let backend: any Backend
    private let weights: WeightStore
    private let precision: Precision
    private let transform: DetectorTransform
    typealias Compiled = CompiledPlan

    private var backbonePlans: [PlanKey: Compiled] = [:]
    private var headPlans: [PlanKey: Compiled] = [:]
    private var input: [Float] = []
    private var pooled: [Float] = []
    public private(set) var networkSeconds = 0.0

    /// The classes the weights were trained for (`roi_heads.box_predictor.cls_score.weight` is [classes, 1024]).
    public static func classes(in weights: WeightStore) -> Int? { weights["roi_heads.box_predictor.cls_score.weight"]?.shape.first }

    public init(backend: any Backend, weights: WeightStore, precision: Precision, classes: Int, settings: DetectorSettings) {
        self.backend = backend
        self.weights = weights
        self.precision = precision
        self.classes = classes
        self.settings = settings
        transform = DetectorTransform(minSize: settings.minSize, maxSize: settings.maxSize, normalization: ResNet50.preprocessing)
    }

    /// Every parameter the detector reads, with its shape (for checking a weights file).
    public static func parameters(classes: Int) -> [String: [Int]] {
        var all = FasterRCNNBackbone.graph(batch: 1, height: 64, width: 64).parameters
        all.merge(boxHead(rows: 1, classes: classes).parameters) { a, _ in a }
        return all
    }

    /// Seeded weights (see ``SeededWeights``) for timing runs without a file.
    public static func seededWeights(classes: Int = 91, seed: UInt64) -> WeightStore {
        SeededWeights.make(parameters(classes: classes), seed: seed)
    }

    /// The box head and predictor over `rows` pooled proposals: class logits, then box deltas.
    public static func boxHead(rows: Int, classes: Int) -> Graph {
        var b = GraphBuilder(input: Shape4(n: rows, c: FasterRCNNBackbone.channels, h: 7, w: 7))
        var x = b.linear(b.graph.input, weight: "roi_heads.box_head.fc6.weight", bias: "roi_heads.box_head.fc6.bias", outFeatures: 1024, relu: true)
        x = b.linear(x, weight: "roi_heads.box_head.fc7.weight", bias: "roi_heads.box_head.fc7.bias", outFeatures: 1024, relu: true)
        b.markOutput(b.linear(x, weight: "roi_heads.box_predictor.cls_score.weight", bias: "roi_heads.box_predictor.cls_score.bias", outFeatures: classes))
        b.markOutput(b.linear(x, weight: "roi_heads.box_predictor.bbox_pred.weight", bias: "roi_heads.box_predictor.bbox_pred.bias", outFeatures: 4 * classes))
        return b.graph
    }

    /// Bytes the plans and buffers hold.
    public var memoryBytes: Int {
        (Array(backbonePlans.values) + Array(headPlans.values)).reduce(0) { total, c in
            total + c.plan.memoryBytes + c.outputs.map(\.count).reduce(0, +) * 4
        } + (input.count + pooled.count) * 4
    }

    /// Compiles the plans for batches of `count` images of `height` x `width` ahead of
    /// the first batch.
    public func prepare(count: Int, height: Int, width: Int) throws {
        let (ph, pw) = transform.padded(height: height, width: width)
        let step = max(1, settings.imagesPerPass)
        for pass in Set([min(count, step), count % step]) where pass > 0 {
            _ = try backbonePlan(count: pass, height: ph, width: pw)
            _ = try headPlan(rows: pass * settings.rpnPostNMSTopN)
        }
    }

    /// Detects objects in `count` CHW images of `channels` x `height` x `width` [0, 1] floats.
    ///
    /// The images go through the network `settings.imagesPerPass` at a time: memory
    /// (activations, pyramid, pooled proposals) grows with the images in one pass, while
    /// the speed of each image hardly depends on how many share it.
    public func detect(_ images: UnsafePointer<Float>, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]] {
        let step = max(1, settings.imagesPerPass), plane = channels * height * width
        var results: [[Detection]] = []
        results.reserveCapacity(count)
        networkSeconds = 0
        for first in stride(from: 0, to: count, by: step) {
            results += try detectPass(
                images + first * plane, count: min(step, count - first), channels: channels, height: height, width: width)
        }
        return results
    }

    private func detectPass(_ images: UnsafePointer<Float>, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]] {
        let (rh, rw) = transform.resized(height: height, width: width)
        let (perImageProposals, backbone) = try propose(images, count: count, channels: channels, height: height, width: width)
        let features = backbone.outputs, shapes = backbone.plan.outputShapes
        let rows = perImageProposals.map(\.count).reduce(0, +)
        let maxRows = count * settings.rpnPostNMSTopN
        let head = try headPlan(rows: maxRows)
        let binSize = FasterRCNNBackbone.channels * 49
        if pooled.count < maxRows * binSize { pooled = [Float](repeating: 0, count: maxRows * binSize) }
        pooled.withUnsafeMutableBufferPointer { out in
            var row = 0
            for (i, boxes) in perImageProposals.enumerated() {
                for box in boxes {
                    roiAlign(image: i, box: box, features: features, shapes: shapes, height: rh, width: rw, into: out.baseAddress! + row * binSize)
                    row += 1
                }
            }
            // Rows past the proposals are padding; zero them so nothing stale reaches the head.
            (out.baseAddress! + rows * binSize).update(repeating: 0, count: (maxRows - rows) * binSize)
        }
        try timed(&networkSeconds) {
            try pooled.withUnsafeBufferPointer { try head.plan.run(input: $0.baseAddress!, outputs: head.outputs.map { $0.baseAddress! }) }
        }

        var results: [[Detection]] = []
        var row = 0
        for boxes in perImageProposals {
            results.append(postprocess(boxes, head: head.outputs, firstRow: row, height: rh, width: rw, originalHeight: height, originalWidth: width))
            row += boxes.count
        }
        return results
    }

    /// The transform, the backbone with the RPN head, and the RPN's proposals of each
    /// image, in the resized image's pixels: what the box head is given.
    func propose(_ images: UnsafePointer<Float>, count: Int, channels: Int, height: Int, width: Int) throws
        -> (proposals: [[Box]], backbone: Compiled)
    {
        let (ph, pw) = transform.padded(height: height, width: width)
        let (rh, rw) = transform.resized(height: height, width: width)
        let backbone = try backbonePlan(count: count, height: ph, width: pw)
        let features = backbone.outputs
        let plane = channels * ph * pw
        if input.count < count * plane { input = [Float](repeating: 0, count: count * plane) }
        try timed(&networkSeconds) {
            input.withUnsafeMutableBufferPointer { out in
                for i in 0..<count {
                    transform.apply(images + i * channels * height * width, channels: channels, height: height, width: width,
                                    into: out.baseAddress! + i * plane)
                }
            }
            try input.withUnsafeBufferPointer { try backbone.plan.run(input: $0.baseAddress!, outputs: features.map { $0.baseAddress! }) }
        }
        let shapes = backbone.plan.outputShapes
        let proposals = (0..<count).map { i in
            self.proposals(image: i, features: features, shapes: shapes, height: rh, width: rw, paddedHeight: ph, paddedWidth: pw)
        }
        return (proposals, backbone)
    }

    private func backbonePlan(count: Int, height: Int, width: Int) throws -> Compiled {
        let key = PlanKey(input: Shape4(n: count, c: 3, h: height, w: width), precision: precision)
        if let compiled = backbonePlans[key] { return compiled }
        let compiled = Compiled(try backend.compile(
            FasterRCNNBackbone.graph(batch: count, height: height, width: width, bnEps: settings.bnEps), weights: weights,
            precision: precision))
        backbonePlans[key] = compiled
        return compiled
    }

    private func headPlan(rows: Int) throws -> Compiled {
        let graph = Self.boxHead(rows: rows, classes: classes)
        let key = PlanKey(input: graph.shape(of: graph.input), precision: precision)
        if let compiled = headPlans[key] { return compiled }
        let compiled = Compiled(try backend.compile(graph, weights: weights, precision: precision))
        headPlans[key] = compiled
        return compiled
    }

    /// The RPN's filter_proposals for one image.
    private func proposals(image i: Int, features: [UnsafeMutableBufferPointer<Float>], shapes: [Shape4], height: Int, width: Int, paddedHeight: Int, paddedWidth: Int) -> [Box] {
        let a = FasterRCNNBackbone.anchorsPerLocation
        var boxes: [Box] = [], logits: [Float] = [], levels: [Int] = []
        for level in 0..<5 {
            let shape = shapes[level]
            let hw = shape.h * shape.w
            let objectness = features[5 + 2 * level].baseAddress! + i * a * hw
            let deltas = features[6 + 2 * level].baseAddress! + i * 4 * a * hw
            let n = hw * a
            // Scores in the RPN's flattening order: location-major, then anchor.
            var scores = [Float](repeating: 0, count: n)
            for p in 0..<hw { for k in 0..<a { scores[p * a + k] = objectness[k * hw + p] } }
            // topk: the best rpnPreNMSTopN, best first, ties by position (selected, not a sort of every anchor).
            let top = TopK.indices(scores, count: settings.rpnPreNMSTopN)
            let anchors = Anchors.level(level, featureHeight: shape.h, featureWidth: shape.w, imageHeight: paddedHeight, imageWidth: paddedWidth)
            let coder = BoxCoder(weights: (1, 1, 1, 1))
            for index in top {
                let (p, k) = index.quotientAndRemainder(dividingBy: a)
                let d = (deltas[(k * 4) * hw + p], deltas[(k * 4 + 1) * hw + p], deltas[(k * 4 + 2) * hw + p], deltas[(k * 4 + 3) * hw + p])
                boxes.append(coder.decode(d, on: anchors[index]))
                logits.append(scores[index])
                levels.append(level)
            }
        }
        var kept: [Int] = []
        var clipped: [Box] = [], probabilities: [Float] = [], keptLevels: [Int] = []
        for j in boxes.indices {
            let box = boxes[j].clipped(width: Float(width), height: Float(height))
            guard box.isAtLeast(1e-3) else { continue }
            clipped.append(box)
            probabilities.append(1 / (1 + expf(-logits[j])))
            keptLevels.append(levels[j])
        }
        kept = NMS.batched(clipped, scores: probabilities, groups: keptLevels, iou: settings.rpnNMSThreshold)
        return kept.prefix(settings.rpnPostNMSTopN).map { clipped[$0] }
    }

    /// MultiScaleRoIAlign: the level by the box's size (k = floor(4 + log2(sqrt(area) / 224) + 1e-6),
    /// clamped to 2...5), then 7x7 RoIAlign with sampling ratio 2 on that level.
    private func roiAlign(image i: Int, box: Box, features: [UnsafeMutableBufferPointer<Float>], shapes: [Shape4], height: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        let k = (4 + log2f(box.area.squareRoot() / 224) + 1e-6).rounded(.down)
        let level = Int(min(max(k, 2), 5)) - 2
        let shape = shapes[level]
        // torchvision infers each level's scale from the resized image size, as a power of two.
        let scale = powf(2, log2f(Float(shape.h) / Float(height)).rounded())
        let plane = shape.c * shape.h * shape.w
        RoIAlign.pool(
            features[level].baseAddress! + i * plane, channels: shape.c, height: shape.h, width: shape.w, box: box,
            spatialScale: scale, size: 7, samplingRatio: 2, into: out)
    }

    /// postprocess_detections and the transform's resize back to the tile.
    private func postprocess(_ proposals: [Box], head: [UnsafeMutableBufferPointer<Float>], firstRow: Int, height: Int, width: Int, originalHeight: Int, originalWidth: Int) -> [Detection] {
        let c = classes
        let logits = head[0].baseAddress!, regression = head[1].baseAddress!
        let coder = BoxCoder(weights: (10, 10, 5, 5))
        var boxes: [Box] = [], scores: [Float] = [], labels: [Int] = []
        for (k, proposal) in proposals.enumerated() {
            let row = firstRow + k
            let l = logits + row * c
            var top = l[0]
            for j in 1..<c { top = max(top, l[j]) }
            var sum: Float = 0
            for j in 0..<c { sum += expf(l[j] - top) }
            for label in 1..<c {
                let score = expf(l[label] - top) / sum
                let r = regression + row * 4 * c + 4 * label
                let box = coder.decode((r[0], r[1], r[2], r[3]), on: proposal).clipped(width: Float(width), height: Float(height))
                guard score > settings.scoreThreshold, box.isAtLeast(1e-2) else { continue }
                boxes.append(box)
                scores.append(score)
                labels.append(label)
            }
        }
        return Detection.best(
            boxes: boxes, scores: scores, labels: labels, iou: settings.nmsThreshold, limit: settings.detectionsPerImage,
            scale: (Float(originalWidth) / Float(width), Float(originalHeight) / Float(height)))
    }
}
