import Engine
import Foundation

/// torchvision's GeneralizedRCNNTransform at inference: normalise, resize so the short
/// side is `minSize` unless the long side would pass `maxSize` (bilinear,
/// align_corners=False, size floor(side x scale) with the scale then recomputed as
/// in / out, as `recompute_scale_factor=True` does), and pad to a multiple of 32.
public struct DetectorTransform: Sendable {
    public var minSize: Int
    public var maxSize: Int
    public var normalization: Normalization
    public static let sizeDivisible = 32

    public init(minSize: Int, maxSize: Int, normalization: Normalization) {
        (self.minSize, self.maxSize, self.normalization) = (minSize, maxSize, normalization)
    }

    /// The resized size (before padding) of an image of `height` x `width`.
    public func resized(height: Int, width: Int) -> (height: Int, width: Int) {
        let short = Double(min(height, width)), long = Double(max(height, width))
        let scale = min(Double(minSize) / short, Double(maxSize) / long)
        return (Int((Double(height) * scale).rounded(.down)), Int((Double(width) * scale).rounded(.down)))
    }

    /// The padded size the network sees.
    public func padded(height: Int, width: Int) -> (height: Int, width: Int) {
        let r = resized(height: height, width: width), d = Self.sizeDivisible
        return ((r.height + d - 1) / d * d, (r.width + d - 1) / d * d)
    }

    /// Per channel, the normalisation as `x * scale + shift`.
    public var scale: [Float] { normalization.std.map { 1 / $0 } }
    public var shift: [Float] { zip(normalization.mean, normalization.std).map { -$0 / $1 } }

    /// Transforms one CHW image into `out` (channels x padded height x padded width).
    public func apply(_ image: UnsafeBufferPointer<Float>, channels: Int, height: Int, width: Int, into out: UnsafeMutableBufferPointer<Float>) {
        let (ph, pw) = padded(height: height, width: width)
        precondition(image.count >= channels * height * width && out.count >= channels * ph * pw, "an image or output too small")
        ResizeNormalize.apply(
            image.baseAddress!, channels: channels, height: height, width: width, resized: resized(height: height, width: width),
            padded: (ph, pw), scale: scale, shift: shift, into: out.baseAddress!)
    }
}
