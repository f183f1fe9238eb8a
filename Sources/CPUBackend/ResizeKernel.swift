import Dispatch
import Engine

/// Work a plan runs on the host between oneDNN's primitives, for ops it has no
/// primitive for (or none that computes what PyTorch does).
protocol HostKernel: AnyObject {
    func run() throws
}

extension GroupNormKernel: HostKernel {}

/// Bilinear resizing of an NHWC float32 value, as PyTorch's `upsample_bilinear2d`
/// computes it for `F.interpolate(size=...)`: oneDNN's linear resampling has no
/// `align_corners=True`, and this also stays exact for the 1x1 broadcast of DeepLabV3's
/// image pooling. Each output pixel blends the four nearest input pixels; the source
/// indices and weights of every row and column are computed once, at compile time.
///
/// Unchecked Sendable: `run` splits the output rows among threads, each writing only its own.
final class ResizeKernel: HostKernel, @unchecked Sendable {
    /// Along one axis, for each output index: the two input indices and their weights.
    struct Taps {
        var low: [Int], high: [Int], lowWeight: [Float], highWeight: [Float]

        init(input: Int, output: Int, alignCorners: Bool) {
            (low, high, lowWeight, highWeight) = ([], [], [], [])
            // PyTorch's area_pixel_compute_scale and _source_index for linear modes.
            let scale: Float = alignCorners
                ? (output > 1 ? Float(input - 1) / Float(output - 1) : 0)
                : Float(input) / Float(output)
            for i in 0..<output {
                let source = alignCorners ? scale * Float(i) : max(scale * (Float(i) + 0.5) - 0.5, 0)
                let l = min(Int(source), input - 1)
                let h = l < input - 1 ? l + 1 : l
                let w = source - Float(l)
                low.append(l)
                high.append(h)
                lowWeight.append(1 - w)
                highWeight.append(w)
            }
        }
    }

    private let input: UnsafePointer<Float>
    private let output: UnsafeMutablePointer<Float>
    private let from: Shape4, to: Shape4
    private let rows: Taps, columns: Taps
    private let chunks: Int

    init(_ op: Graph.Resize, from: Shape4, to: Shape4, input: UnsafeRawPointer, output: UnsafeMutableRawPointer, threads: Int) {
        self.input = input.assumingMemoryBound(to: Float.self)
        self.output = output.assumingMemoryBound(to: Float.self)
        (self.from, self.to) = (from, to)
        rows = Taps(input: from.h, output: to.h, alignCorners: op.alignCorners)
        columns = Taps(input: from.w, output: to.w, alignCorners: op.alignCorners)
        chunks = max(1, min(threads, to.n * to.h))
    }

    func run() {
        let total = to.n * to.h
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            for row in (total * chunk / chunks)..<(total * (chunk + 1) / chunks) { resize(row: row) }
        }
    }

    /// One output row (image `row / to.h`), every column and channel.
    private func resize(row: Int) {
        let (image, y) = row.quotientAndRemainder(dividingBy: to.h)
        let c = from.c
        let imageBase = image * from.h * from.w * c
        let top = input + imageBase + rows.low[y] * from.w * c, bottom = input + imageBase + rows.high[y] * from.w * c
        let (wTop, wBottom) = (rows.lowWeight[y], rows.highWeight[y])
        let out = output + row * to.w * c
        for x in 0..<to.w {
            let (left, right) = (columns.low[x] * c, columns.high[x] * c)
            let (wLeft, wRight) = (columns.lowWeight[x], columns.highWeight[x])
            let o = out + x * c
            for k in 0..<c {
                let upper = wLeft * top[left + k] + wRight * top[right + k]
                let lower = wLeft * bottom[left + k] + wRight * bottom[right + k]
                o[k] = wTop * upper + wBottom * lower
            }
        }
    }
}
