/// One step of a ``DetectorProgram``: a network, or one of the detector's own operations
/// as torchvision computes them at inference (float32, its operation order). Every
/// backend implements each; what each computes, including what lies past a count, is
/// stated here, and a backend's results are held to the CPU backend's.
public enum DetectionStep: Sendable {
    /// Network `k` of the program: its input buffer read, its output buffers written.
    case network(Int)
    /// The buffer set to zero.
    case zero(DetectorProgram.Buffer)
    case transform(Transform)
    case anchorProposals(AnchorProposals)
    case classCandidates(ClassCandidates)
    case nms(NMSStep)
    case gatherBoxes(GatherBoxes)
    case roiAlign(MultiScaleRoIAlign)
    case boxCandidates(BoxCandidates)
    case gatherDetections(GatherDetections)

    /// The transform and networks count as the network's time; the rest is the detector's own.
    public var isNetwork: Bool {
        switch self {
        case .network, .transform: true
        default: false
        }
    }

    public typealias Buffer = DetectorProgram.Buffer
    public typealias Candidates = DetectorProgram.Candidates
    public typealias Kept = DetectorProgram.Kept

    /// GeneralizedRCNNTransform: each image normalised (`x * scale[c] + shift[c]`, each
    /// neighbour before interpolating), resized bilinearly (align_corners=False) to
    /// `resized`, zero-padded to `padded` (see ``ResizeNormalize``).
    public struct Transform: Sendable {
        public var source, destination: Buffer
        /// How `source` holds the pixels: each sample becomes `Float(sample) * pixels.scale`
        /// before the normalisation, as a reader converts it.
        public var pixels: PixelEncoding
        public var images, channels, height, width: Int
        public var resized, padded: (height: Int, width: Int)
        public var scale, shift: [Float]
        public init(source: Buffer, destination: Buffer, pixels: PixelEncoding = .float32, images: Int, channels: Int, height: Int,
                    width: Int, resized: (height: Int, width: Int), padded: (height: Int, width: Int), scale: [Float], shift: [Float]) {
            (self.source, self.destination, self.pixels) = (source, destination, pixels)
            (self.images, self.channels, self.height, self.width) = (images, channels, height, width)
            (self.resized, self.padded, self.scale, self.shift) = (resized, padded, scale, shift)
        }
    }

    /// One level of the RPN's filter_proposals: of `objectness` ([images, anchors, h, w]),
    /// the best `count` in the RPN's order (location-major, then anchor; ties by
    /// position, ``TopK``), each decoded from `deltas` ([images, 4 x anchors, h, w],
    /// weights 1) on its anchor (`cell` of the level, x1 y1 x2 y2 per anchor, shifted by
    /// the location times `stride`), clipped to `bounds`, valid when both sides are at
    /// least 1e-3, scored by the sigmoid of its logit, grouped by `level`. Written to
    /// slots `firstSlot`... of each image; slots past the anchors there are invalid.
    public struct AnchorProposals: Sendable {
        public var objectness, deltas: Buffer
        public var anchors, featureHeight, featureWidth, count, level, firstSlot: Int
        public var cell: [Float]
        public var stride: (x: Float, y: Float)
        public var bounds: (width: Float, height: Float)
        public var into: Candidates
        public init(objectness: Buffer, deltas: Buffer, anchors: Int, featureHeight: Int, featureWidth: Int, count: Int, level: Int,
                    firstSlot: Int, cell: [Float], stride: (x: Float, y: Float), bounds: (width: Float, height: Float), into: Candidates) {
            (self.objectness, self.deltas, self.anchors, self.featureHeight, self.featureWidth) = (objectness, deltas, anchors, featureHeight, featureWidth)
            (self.count, self.level, self.firstSlot, self.cell, self.stride, self.bounds, self.into) = (count, level, firstSlot, cell, stride, bounds, into)
        }
    }

    /// One level of RetinaNet's postprocess_detections: of `logits` ([images, anchors x
    /// classes, h, w]), the sigmoid scores above `threshold`, best first (ties by
    /// torchvision's flattened index: location, anchor, class), at most `count`, each
    /// decoded from `regression` ([images, 4 x anchors, h, w], weights 1) on its anchor
    /// and clipped to `bounds`, grouped by its class. Written to slots `firstSlot`...;
    /// slots past those found are invalid.
    public struct ClassCandidates: Sendable {
        public var logits, regression: Buffer
        public var anchors, classes, featureHeight, featureWidth, count, firstSlot: Int
        public var threshold: Float
        public var cell: [Float]
        public var stride: (x: Float, y: Float)
        public var bounds: (width: Float, height: Float)
        public var into: Candidates
        public init(logits: Buffer, regression: Buffer, anchors: Int, classes: Int, featureHeight: Int, featureWidth: Int, count: Int,
                    firstSlot: Int, threshold: Float, cell: [Float], stride: (x: Float, y: Float), bounds: (width: Float, height: Float),
                    into: Candidates) {
            (self.logits, self.regression, self.anchors, self.classes, self.featureHeight, self.featureWidth) = (logits, regression, anchors, classes, featureHeight, featureWidth)
            (self.count, self.firstSlot, self.threshold, self.cell, self.stride, self.bounds, self.into) = (count, firstSlot, threshold, cell, stride, bounds, into)
        }
    }

    /// ``NMS/batched(_:scores:groups:iou:)`` over each image's valid candidates (both of
    /// torchvision's paths, as it chooses them), the best `kept.limit` kept.
    public struct NMSStep: Sendable {
        public var candidates: Candidates
        public var threshold: Float
        public var kept: Kept
        public init(candidates: Candidates, threshold: Float, kept: Kept) { (self.candidates, self.threshold, self.kept) = (candidates, threshold, kept) }
    }

    /// The kept candidates' boxes, `[images, kept.limit, 4]`, zero past each image's count.
    public struct GatherBoxes: Sendable {
        public var candidates: Candidates
        public var kept: Kept
        public var into: Buffer
        public init(candidates: Candidates, kept: Kept, into: Buffer) { (self.candidates, self.kept, self.into) = (candidates, kept, into) }
    }

    /// MultiScaleRoIAlign (7 x 7, sampling ratio 2, aligned=False) of proposal rows
    /// `firstRow`..<`firstRow + rows` (`boxes`: [images, rowsPerImage, 4], `counts`
    /// per image) into `into` ([rows, channels, 7, 7]; zero for rows past their image's
    /// count). Each box's level is floor(4 + log2(sqrt(area) / 224) + 1e-6) clamped to
    /// 2...5, i.e. `levels[k - 2]`: an NCHW map and its scale.
    public struct MultiScaleRoIAlign: Sendable {
        public struct Level: Sendable {
            public var features: Buffer
            public var height, width: Int
            public var scale: Float
            public init(features: Buffer, height: Int, width: Int, scale: Float) { (self.features, self.height, self.width, self.scale) = (features, height, width, scale) }
        }
        public var levels: [Level]
        public var channels: Int
        public var boxes, counts: Buffer
        public var rowsPerImage, firstRow, rows: Int
        public var into: Buffer
        public init(levels: [Level], channels: Int, boxes: Buffer, counts: Buffer, rowsPerImage: Int, firstRow: Int, rows: Int, into: Buffer) {
            (self.levels, self.channels, self.boxes, self.counts) = (levels, channels, boxes, counts)
            (self.rowsPerImage, self.firstRow, self.rows, self.into) = (rowsPerImage, firstRow, rows, into)
        }
    }

    /// Faster R-CNN's postprocess_detections for proposal rows `firstRow`...: softmax of
    /// each row's `logits` ([rows, classes]), each foreground class's box decoded from
    /// `regression` ([rows, 4 x classes], weights 10, 10, 5, 5) on the proposal and
    /// clipped to `bounds`, kept when its score passes `threshold` and both sides are at
    /// least 1e-2, grouped by class. Row r's go to slots r x perRow...; a row with more
    /// than `perRow` adds one to `overflow` (int32).
    public struct BoxCandidates: Sendable {
        public var logits, regression, proposals, counts: Buffer
        public var rowsPerImage, firstRow, rows, classes, perRow: Int
        public var threshold: Float
        public var bounds: (width: Float, height: Float)
        public var into: Candidates
        public var overflow: Buffer
        public init(logits: Buffer, regression: Buffer, proposals: Buffer, counts: Buffer, rowsPerImage: Int, firstRow: Int, rows: Int,
                    classes: Int, perRow: Int, threshold: Float, bounds: (width: Float, height: Float), into: Candidates, overflow: Buffer) {
            (self.logits, self.regression, self.proposals, self.counts, self.rowsPerImage) = (logits, regression, proposals, counts, rowsPerImage)
            (self.firstRow, self.rows, self.classes, self.perRow, self.threshold) = (firstRow, rows, classes, perRow, threshold)
            (self.bounds, self.into, self.overflow) = (bounds, into, overflow)
        }
    }

    /// The detections: per image its count, then `kept.limit` rows of (x1, y1, x2, y2,
    /// score, class) float32, boxes scaled by `scale`; rows past the count are left as
    /// they were.
    public struct GatherDetections: Sendable {
        public var candidates: Candidates
        public var kept: Kept
        public var scale: (x: Float, y: Float)
        public var into: Buffer
        public init(candidates: Candidates, kept: Kept, scale: (x: Float, y: Float), into: Buffer) {
            (self.candidates, self.kept, self.scale, self.into) = (candidates, kept, scale, into)
        }
    }
}
