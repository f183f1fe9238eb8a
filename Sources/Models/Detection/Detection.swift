/// One detected object: its box in the tile's pixels, its class and its score.
public struct Detection: Hashable, Sendable {
    public var box: Box
    public var label: Int
    public var score: Float

    public init(box: Box, label: Int, score: Float) { (self.box, self.label, self.score) = (box, label, score) }

    /// A detector's last step, as torchvision's: class-wise NMS, the best `limit` kept,
    /// boxes scaled from the resized image back to the tile (`scale`: tile / resized).
    static func best(
        boxes: [Box], scores: [Float], labels: [Int], iou: Float, limit: Int, scale: (x: Float, y: Float)
    ) -> [Detection] {
        NMS.batched(boxes, scores: scores, groups: labels, iou: iou).prefix(limit).map { j in
            let b = boxes[j]
            return Detection(box: Box(b.x1 * scale.x, b.y1 * scale.y, b.x2 * scale.x, b.y2 * scale.y), label: labels[j], score: scores[j])
        }
    }
}

/// torchvision's detection settings that are keys of mgpr's too (Faster R-CNN's
/// defaults; RetinaNet keeps 300 detections per image).
public struct DetectorSettings: Sendable {
    public var minSize = 800
    public var maxSize = 1333
    public var scoreThreshold: Float = 0.05
    public var nmsThreshold: Float = 0.5
    public var detectionsPerImage = 100
    public var rpnPreNMSTopN = 1000
    public var rpnPostNMSTopN = 1000
    public var rpnNMSThreshold: Float = 0.7
    /// RetinaNet: the best-scoring candidates kept per level before NMS (topk_candidates).
    public var topCandidates = 1000
    public var bnEps: Float = 1e-5
    /// Images the network runs on at once within a batch (memory grows with it).
    public var imagesPerPass = 4

    public init() {}
}
