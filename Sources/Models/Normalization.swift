import Foundation
import Tiling

/// Per-channel input normalisation, (x - mean) / std, applied to NCHW floats.
public struct Normalization: Sendable {
    public let mean: [Float]
    public let std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "one mean and std per channel")
        (self.mean, self.std) = (mean, std)
    }

    /// Writes the normalised copy of `count` images of `channels` x `plane` floats.
    public func apply(_ input: UnsafeBufferPointer<Float>, to output: UnsafeMutableBufferPointer<Float>, images: Int, plane: Int) {
        let channels = mean.count
        precondition(input.count >= images * channels * plane && output.count >= images * channels * plane, "too few values")
        for n in 0..<images {
            for c in 0..<channels {
                let base = (n * channels + c) * plane
                let scale = 1 / std[c], shift = -mean[c] / std[c]
                for i in base..<(base + plane) { output[i] = input[i] * scale + shift }
            }
        }
    }

    /// A standard normal draw (Box-Muller), for seeded initialisations.
    static func gaussian(_ noise: inout PixelNoise) -> Float {
        let u1 = max(Float(noise.next() >> 40) / Float(1 << 24), 1e-7)
        let u2 = Float(noise.next() >> 40) / Float(1 << 24)
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}
