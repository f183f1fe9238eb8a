import Engine
import Foundation
import Weights

/// torchvision's fasterrcnn_resnet50_fpn (v1) at inference, described once as a
/// ``DetectorProgram`` that every backend compiles: the transform, the backbone with FPN
/// and RPN head (one network), per level the best anchors decoded, NMS, the proposals
/// pooled (MultiScaleRoIAlign) through the box head and predictor (a second network,
/// over a fixed maximum of proposals a few images at a time), and torchvision's
/// post-processing: class-wise NMS, boxes back to the tile.
public final class FasterRCNN: Detector {
    public let settings: DetectorSettings
    public let classes: Int
    private let backend: any Backend
    private let weights: WeightSupply
    private let precision: Precision
    private let passes: DetectorPasses

    /// The classes the weights were trained for (`roi_heads.box_predictor.cls_score.weight` is [classes, 1024]).
    public static func classes(in weights: WeightStore) -> Int? { weights["roi_heads.box_predictor.cls_score.weight"]?.shape.first }

    public convenience init(backend: any Backend, weights: WeightStore, precision: Precision, classes: Int, settings: DetectorSettings) {
        self.init(backend: backend, weights: WeightSupply(weights), precision: precision, classes: classes, settings: settings)
    }

    public init(backend: any Backend, weights: WeightSupply, precision: Precision, classes: Int, settings: DetectorSettings) {
        (self.backend, self.weights, self.precision, self.classes, self.settings) = (backend, weights, precision, classes, settings)
        passes = DetectorPasses(backend: backend, weights: weights, precision: precision, settings: settings) { images, height, width, pixels in
            Self.program(classes: classes, settings: settings, images: images, height: height, width: width, pixels: pixels)
        }
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

    public var memoryBytes: Int { passes.memoryBytes }
    public var networkSeconds: Double { passes.times.network }
    public var copySeconds: Double { passes.times.copy }

    public func prepare(count: Int, height: Int, width: Int, pixels: PixelEncoding) throws {
        try passes.prepare(count: count, height: height, width: width, pixels: pixels)
    }

    public func detect(_ images: HostBuffer, pixels: PixelEncoding, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]] {
        try passes.detect(images, pixels: pixels, count: count, channels: channels, height: height, width: width)
    }

    /// The RPN's proposals of each of `count` images, in the resized image's pixels: what
    /// the box head is given (the program up to there, compiled for this call).
    func propose(_ images: HostBuffer, count: Int, channels: Int, height: Int, width: Int) throws -> [[Box]] {
        var program = Self.program(classes: classes, settings: settings, images: count, height: height, width: width)
        let rows = settings.rpnPostNMSTopN
        guard case .gatherBoxes(let gather)? = program.steps.first(where: { if case .gatherBoxes = $0 { true } else { false } }) else {
            preconditionFailure("the program gathers its proposals")
        }
        program.outputs = [gather.into, gather.kept.counts]
        let boxes = HostBuffer(count: count * rows * 4), counts = HostBuffer(count: count)
        try backend.compile(program, weights: try weights.store(), precision: precision).run(input: images, offset: 0, outputs: [boxes, counts])
        let values = boxes.array
        let found = counts.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        return (0..<count).map { i in
            (0..<Int(found[i])).map { j in
                let v = (i * rows + j) * 4
                return Box(values[v], values[v + 1], values[v + 2], values[v + 3])
            }
        }
    }

    /// The whole detector for one pass of `n` tiles of `height` x `width`.
    public static func program(
        classes: Int, settings: DetectorSettings, images n: Int, height: Int, width: Int, pixels: PixelEncoding = .float32
    ) -> DetectorProgram {
        let transform = DetectorTransform(minSize: settings.minSize, maxSize: settings.maxSize, normalization: ResNet50.preprocessing)
        let (rh, rw) = transform.resized(height: height, width: width)
        let (ph, pw) = transform.padded(height: height, width: width)
        let bounds: (width: Float, height: Float) = (Float(rw), Float(rh))
        var p = DetectorProgram(images: n, channels: 3, height: height, width: width, pixels: pixels)
        let backboneGraph = FasterRCNNBackbone.graph(batch: n, height: ph, width: pw, bnEps: settings.bnEps)
        let backbone = p.network(backboneGraph)
        // The box head runs over the proposals of a few images at a time: its input
        // (256 x 7 x 7 floats per proposal) is the pass's largest buffer.
        let rows = settings.rpnPostNMSTopN
        let headImages = (1...min(n, 4)).last { n % $0 == 0 }!
        let head = p.network(boxHead(rows: headImages * rows, classes: classes))
        let overflow = p.buffer(.int32, count: 1)
        p.append(.zero(overflow))

        p.transform(transform, into: backbone, height: height, width: width)
        p.run(backbone)

        // Proposals: per level the best rpnPreNMSTopN anchors, decoded and clipped; then
        // NMS across them per level, the best rpnPostNMSTopN kept.
        let shapes = backboneGraph.outputs.map { backboneGraph.shape(of: $0) }, levels = 5, k = settings.rpnPreNMSTopN
        let candidates = p.candidates(perImage: levels * k)
        for level in 0..<levels {
            let s = shapes[level]
            let cell: [Float] = Anchors.cell(sizes: [Anchors.sizes[level]]).flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }
            let stride: (x: Float, y: Float) = (Float(pw / s.w), Float(ph / s.h))
            p.append(.anchorProposals(.init(
                objectness: backbone.outputs[5 + 2 * level], deltas: backbone.outputs[6 + 2 * level],
                anchors: FasterRCNNBackbone.anchorsPerLocation, featureHeight: s.h, featureWidth: s.w, count: k, level: level,
                firstSlot: level * k, cell: cell, stride: stride, bounds: bounds, into: candidates)))
        }
        let kept = p.kept(limit: rows)
        p.append(.nms(.init(candidates: candidates, threshold: settings.rpnNMSThreshold, kept: kept)))
        let proposals = p.buffer(.float32, count: n * rows * 4)
        p.append(.gatherBoxes(.init(candidates: candidates, kept: kept, into: proposals)))

        // The box head, a few images' proposals at a time: pooled, through the head, and
        // each row's class boxes that pass the score threshold as candidates.
        let perRow = candidatesPerRow(classes: classes, scoreThreshold: settings.scoreThreshold)
        let detections = p.candidates(perImage: rows * perRow)
        // torchvision infers each level's scale from the resized image size, as a power of two.
        let pooledLevels = (0..<4).map { level in
            DetectionStep.MultiScaleRoIAlign.Level(
                features: backbone.outputs[level], height: shapes[level].h, width: shapes[level].w,
                scale: powf(2, log2f(Float(shapes[level].h) / Float(rh)).rounded()))
        }
        let chunk = headImages * rows
        for first in stride(from: 0, to: n * rows, by: chunk) {
            p.append(.roiAlign(.init(
                levels: pooledLevels, channels: FasterRCNNBackbone.channels, boxes: proposals, counts: kept.counts, rowsPerImage: rows,
                firstRow: first, rows: chunk, into: head.input)))
            p.run(head)
            p.append(.boxCandidates(.init(
                logits: head.outputs[0], regression: head.outputs[1], proposals: proposals, counts: kept.counts, rowsPerImage: rows,
                firstRow: first, rows: chunk, classes: classes, perRow: perRow, threshold: settings.scoreThreshold, bounds: bounds,
                into: detections, overflow: overflow)))
        }
        p.finish(
            detections, nms: settings.nmsThreshold, limit: settings.detectionsPerImage,
            scale: (Float(width) / Float(rw), Float(height) / Float(rh)), overflow: overflow)
        return p
    }

    /// At most this many classes of one proposal can pass `scoreThreshold`: softmax
    /// scores sum to 1 (one spare for rounding), and there are classes - 1 foreground ones.
    public static func candidatesPerRow(classes: Int, scoreThreshold: Float) -> Int {
        guard scoreThreshold > 0 else { return classes - 1 }
        return max(1, min(classes - 1, Int((1 / Double(scoreThreshold)).rounded(.up))))
    }
}
