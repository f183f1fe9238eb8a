import Engine
import Foundation
import Weights

/// torchvision's RetinaNet (ResNet50-FPN, v1 or v2) at inference: the transform, one
/// plan for the backbone and both heads on every level, then per image and level the
/// sigmoid scores above the threshold, the best `topCandidates` of them decoded on
/// their anchors and clipped, class-wise NMS over all levels, the best
/// `detectionsPerImage` kept and resized back to the tile.
public final class RetinaNet {
    public let network: RetinaNetNetwork
    public let settings: DetectorSettings
    private let backend: any Backend
    private let weights: WeightStore
    private let precision: Precision
    private let transform: DetectorTransform
    private var plans: [PlanKey: CompiledPlan] = [:]
    private var input: [Float] = []
    public private(set) var networkSeconds = 0.0

    public init(network: RetinaNetNetwork, backend: any Backend, weights: WeightStore, precision: Precision, settings: DetectorSettings) {
        self.network = network
        self.backend = backend
        self.weights = weights
        self.precision = precision
        self.settings = settings
        transform = DetectorTransform(minSize: settings.minSize, maxSize: settings.maxSize, normalization: ResNet50.preprocessing)
    }

    public var classes: Int { network.classes }

    /// Bytes the plans and buffers hold.
    public var memoryBytes: Int { plans.values.reduce(0) { $0 + $1.memoryBytes } + input.count * 4 }

    /// Compiles the plans for batches of `count` images of `height` x `width` ahead of the first batch.
    public func prepare(count: Int, height: Int, width: Int) throws {
        let (ph, pw) = transform.padded(height: height, width: width)
        let step = max(1, settings.imagesPerPass)
        for pass in Set([min(count, step), count % step]) where pass > 0 { _ = try plan(count: pass, height: ph, width: pw) }
    }

    /// Detects objects in `count` CHW images of `channels` x `height` x `width` [0, 1]
    /// floats, `settings.imagesPerPass` at a time (memory grows with the images in a pass).
    public func detect(_ images: UnsafePointer<Float>, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]] {
        let step = max(1, settings.imagesPerPass), plane = channels * height * width
        var results: [[Detection]] = []
        results.reserveCapacity(count)
        networkSeconds = 0
        for first in stride(from: 0, to: count, by: step) {
            let n = min(step, count - first)
            let compiled = try timed(&networkSeconds) { try run(images + first * plane, count: n, channels: channels, height: height, width: width) }
            results += (0..<n).map { detections(image: $0, of: compiled, height: height, width: width) }
        }
        return results
    }

    /// The transform and the network on one pass of images; the plan holds the heads' outputs.
    func run(_ images: UnsafePointer<Float>, count: Int, channels: Int, height: Int, width: Int) throws -> CompiledPlan {
        let (ph, pw) = transform.padded(height: height, width: width)
        let compiled = try plan(count: count, height: ph, width: pw)
        let plane = channels * ph * pw
        if input.count < count * plane { input = [Float](repeating: 0, count: count * plane) }
        input.withUnsafeMutableBufferPointer { out in
            for i in 0..<count {
                transform.apply(images + i * channels * height * width, channels: channels, height: height, width: width,
                                into: out.baseAddress! + i * plane)
            }
        }
        try input.withUnsafeBufferPointer { try compiled.run($0.baseAddress!) }
        return compiled
    }

    private func plan(count: Int, height: Int, width: Int) throws -> CompiledPlan {
        let key = PlanKey(input: Shape4(n: count, c: 3, h: height, w: width), precision: precision)
        if let compiled = plans[key] { return compiled }
        let compiled = CompiledPlan(try backend.compile(
            network.graph(batch: count, height: height, width: width, bnEps: settings.bnEps), weights: weights, precision: precision))
        plans[key] = compiled
        return compiled
    }

    /// postprocess_detections for image `i` of a pass, and the resize back to the tile.
    private func detections(image i: Int, of compiled: CompiledPlan, height: Int, width: Int) -> [Detection] {
        let (rh, rw) = transform.resized(height: height, width: width)
        let (ph, pw) = transform.padded(height: height, width: width)
        var boxes: [Box] = [], scores: [Float] = [], labels: [Int] = []
        for level in 0..<RetinaNetNetwork.levels {
            let shape = compiled.plan.outputShapes[2 * level]
            let logits = compiled.outputs[2 * level].baseAddress! + i * shape.c * shape.h * shape.w
            let regression = compiled.outputs[2 * level + 1].baseAddress! + i * 4 * RetinaNetNetwork.anchorsPerLocation * shape.h * shape.w
            let base = Anchors.cell(sizes: Anchors.retinaNetSizes[level])
            let strideY = Float(ph / shape.h), strideX = Float(pw / shape.w)
            let coder = BoxCoder(weights: (1, 1, 1, 1))
            for candidate in candidates(logits, featureHeight: shape.h, featureWidth: shape.w) {
                let (anchorIndex, label) = candidate.index.quotientAndRemainder(dividingBy: classes)
                let (p, a) = anchorIndex.quotientAndRemainder(dividingBy: RetinaNetNetwork.anchorsPerLocation)
                let (y, x) = p.quotientAndRemainder(dividingBy: shape.w)
                let cell = base[a], sx = Float(x) * strideX, sy = Float(y) * strideY
                let anchor = Box(cell.x1 + sx, cell.y1 + sy, cell.x2 + sx, cell.y2 + sy)
                let hw = shape.h * shape.w
                let d = (regression[(a * 4) * hw + p], regression[(a * 4 + 1) * hw + p],
                         regression[(a * 4 + 2) * hw + p], regression[(a * 4 + 3) * hw + p])
                boxes.append(coder.decode(d, on: anchor).clipped(width: Float(rw), height: Float(rh)))
                scores.append(candidate.score)
                labels.append(label)
            }
        }
        return Detection.best(
            boxes: boxes, scores: scores, labels: labels, iou: settings.nmsThreshold, limit: settings.detectionsPerImage,
            scale: (Float(width) / Float(rw), Float(height) / Float(rh)))
    }

    /// One level's scores above the threshold, best first, at most `topCandidates`;
    /// `index` counts in torchvision's flattening order (location, anchor, class).
    private func candidates(_ logits: UnsafePointer<Float>, featureHeight: Int, featureWidth: Int) -> [(index: Int, score: Float)] {
        let hw = featureHeight * featureWidth, a = RetinaNetNetwork.anchorsPerLocation, k = classes
        let threshold = settings.scoreThreshold
        // The sigmoid is monotonic: logits clearly below the threshold's are skipped
        // unevaluated, the rest compared exactly as torchvision compares the scores.
        let cut = threshold <= 0 ? -Float.infinity : threshold >= 1 ? Float.infinity : logf(threshold / (1 - threshold)) - 0.01
        var found: [(index: Int, score: Float)] = []
        for channel in 0..<(a * k) {
            let (anchor, label) = channel.quotientAndRemainder(dividingBy: k)
            let plane = logits + channel * hw
            for p in 0..<hw where plane[p] > cut {
                let score = 1 / (1 + expf(-plane[p]))
                if score > threshold { found.append(((p * a + anchor) * k + label, score)) }
            }
        }
        found.sort { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
        return Array(found.prefix(settings.topCandidates))
    }
}
