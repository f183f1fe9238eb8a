import Engine

/// One detected object: its box in the tile's pixels, its class and its score.
public struct Detection: Hashable, Sendable {
    public var box: Box
    public var label: Int
    public var score: Float

    public init(box: Box, label: Int, score: Float) { (self.box, self.label, self.score) = (box, label, score) }
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
