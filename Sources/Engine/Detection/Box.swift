/// An axis-aligned box in pixels, corners (x1, y1) top-left and (x2, y2) bottom-right, as
/// torchvision's (x1, y1, x2, y2) tensors. Arithmetic is Float32, as torchvision's.
public struct Box: Hashable, Sendable {
    public var x1, y1, x2, y2: Float

    public init(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) { (self.x1, self.y1, self.x2, self.y2) = (x1, y1, x2, y2) }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    public var area: Float { (x2 - x1) * (y2 - y1) }

    /// Intersection over union, as torchvision's box_iou and nms compute it.
    public func iou(_ other: Box) -> Float {
        let w = max(0, min(x2, other.x2) - max(x1, other.x1))
        let h = max(0, min(y2, other.y2) - max(y1, other.y1))
        let inter = w * h
        return inter / (area + other.area - inter)
    }

    /// Clamped to an image of `width` x `height` (clip_boxes_to_image).
    public func clipped(width: Float, height: Float) -> Box {
        Box(min(max(x1, 0), width), min(max(y1, 0), height), min(max(x2, 0), width), min(max(y2, 0), height))
    }

    /// remove_small_boxes: both sides at least `minSize`.
    public func isAtLeast(_ minSize: Float) -> Bool { width >= minSize && height >= minSize }
}
