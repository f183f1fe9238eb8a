/// The pixel work of torchvision's GeneralizedRCNNTransform: each channel normalised
/// (`x * scale + shift`, each neighbour before interpolating, as normalisation comes
/// first there), resized bilinearly (align_corners=False) and zero-padded.
public enum ResizeNormalize {
    /// Transforms one CHW image of `height` x `width` into `out` (channels x padded.height
    /// x padded.width), its top-left `resized` corner the resized image.
    public static func apply(
        _ image: UnsafePointer<Float>, channels: Int, height: Int, width: Int, resized: (height: Int, width: Int),
        padded: (height: Int, width: Int), scale: [Float], shift: [Float], into out: UnsafeMutablePointer<Float>
    ) {
        let (ph, pw) = padded
        out.update(repeating: 0, count: channels * ph * pw)
        let rows = taps(input: height, output: resized.height), cols = taps(input: width, output: resized.width)
        for c in 0..<channels {
            let scale = scale[c], shift = shift[c]
            let src = image + c * height * width, dst = out + c * ph * pw
            for (y, r) in rows.enumerated() {
                let line0 = src + r.low * width, line1 = src + r.high * width
                for (x, k) in cols.enumerated() {
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
