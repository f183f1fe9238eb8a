import Foundation

/// torchvision's BoxCoder.decode: deltas (dx, dy, dw, dh), divided by `weights`, applied
/// to reference boxes; dw and dh clamped at log(1000 / 16). Same operation order, Float32.
public struct BoxCoder: Sendable {
    public var weights: (x: Float, y: Float, w: Float, h: Float)
    public static let clip = Float(log(1000.0 / 16.0))

    public init(weights: (Float, Float, Float, Float)) { self.weights = (weights.0, weights.1, weights.2, weights.3) }

    public func decode(_ d: (Float, Float, Float, Float), on box: Box) -> Box {
        let width = box.x2 - box.x1, height = box.y2 - box.y1
        let ctrX = box.x1 + 0.5 * width, ctrY = box.y1 + 0.5 * height
        let dx = d.0 / weights.x, dy = d.1 / weights.y
        let dw = min(d.2 / weights.w, Self.clip), dh = min(d.3 / weights.h, Self.clip)
        let predCtrX = dx * width + ctrX, predCtrY = dy * height + ctrY
        let predW = expf(dw) * width, predH = expf(dh) * height
        let halfW = 0.5 * predW, halfH = 0.5 * predH
        return Box(predCtrX - halfW, predCtrY - halfH, predCtrX + halfW, predCtrY + halfH)
    }
}
