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

    /// Transforms one CHW image into `out` (channels x padded height x padded width).
    public func apply(_ image: UnsafePointer<Float>, channels: Int, height: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        let (rh, rw) = resized(height: height, width: width)
        let (ph, pw) = padded(height: height, width: width)
        out.update(repeating: 0, count: channels * ph * pw)
        let rows = Self.taps(input: height, output: rh), cols = Self.taps(input: width, output: rw)
        for c in 0..<channels {
            let scale = 1 / normalization.std[c], shift = -normalization.mean[c] / normalization.std[c]
            let src = image + c * height * width, dst = out + c * ph * pw
            for (y, r) in rows.enumerated() {
                let line0 = src + r.low * width, line1 = src + r.high * width
                for (x, k) in cols.enumerated() {
                    // Normalise each neighbour, then interpolate: normalisation comes first in torchvision.
                    let a = line0[k.low] * scale + shift, b = line0[k.high] * scale + shift
                    let c0 = line1[k.low] * scale + shift, d = line1[k.high] * scale + shift
                    dst[y * pw + x] = r.w0 * (k.w0 * a + k.w1 * b) + r.w1 * (k.w0 * c0 + k.w1 * d)
                }
            }
        }
    }

    /// Source neighbours and weights of each output index along one axis.
    static func taps(input: Int, output: Int) -> [(low: Int, high: Int, w0: Float, w1: Float)] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { i in
            let source = max(scale * (Float(i) + 0.5) - 0.5, 0)
            let low = Int(source)
            let high = low + (low < input - 1 ? 1 : 0)
            let w1 = source - Float(low)
            return (low, high, 1 - w1, w1)
        }
    }
}
