/// torchvision.ops.roi_align with aligned=False: each box (in image pixels, times
/// `spatialScale`) is cut into `size` x `size` bins, each the average of
/// `samplingRatio`^2 bilinear samples, with torchvision's rules at the map's edges.
public enum RoIAlign {
    /// Writes `channels x size x size` floats for `box` from one image's NCHW feature map.
    public static func pool(
        _ features: UnsafePointer<Float>, channels: Int, height: Int, width: Int, box: Box, spatialScale: Float,
        size: Int, samplingRatio: Int, into out: UnsafeMutablePointer<Float>
    ) {
        let bins = size * size, perBin = samplingRatio * samplingRatio, count = Float(perBin)
        withSamples(box: box, height: height, width: width, spatialScale: spatialScale, size: size, grid: samplingRatio) { o, w in
            let plane = height * width
            for c in 0..<channels {
                let map = features + c * plane, target = out + c * bins
                for bin in 0..<bins {
                    var sum: Float = 0
                    for s in stride(from: 4 * bin * perBin, to: 4 * (bin + 1) * perBin, by: 4) {
                        sum += w[s] * map[o[s]] + w[s + 1] * map[o[s + 1]] + w[s + 2] * map[o[s + 2]] + w[s + 3] * map[o[s + 3]]
                    }
                    target[bin] = sum / count
                }
            }
        }
    }

    /// ``pool(_:channels:height:width:box:spatialScale:size:samplingRatio:into:)`` from an
    /// NHWC feature map into `size x size x channels` floats (NHWC too), with the same sums
    /// in the same order, so the same floats: a sample's neighbours are then each
    /// `channels` contiguous floats, summed for every channel at once.
    public static func poolChannelsLast(
        _ features: UnsafePointer<Float>, channels: Int, height: Int, width: Int, box: Box, spatialScale: Float,
        size: Int, samplingRatio: Int, into out: UnsafeMutablePointer<Float>
    ) {
        let bins = size * size, perBin = samplingRatio * samplingRatio, count = Float(perBin)
        withSamples(box: box, height: height, width: width, spatialScale: spatialScale, size: size, grid: samplingRatio) { o, w in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: channels) { sums in
                let sum = sums.baseAddress!
                for bin in 0..<bins {
                    sum.update(repeating: 0, count: channels)
                    for s in stride(from: 4 * bin * perBin, to: 4 * (bin + 1) * perBin, by: 4) {
                        let a = features + o[s] * channels, b = features + o[s + 1] * channels
                        let c = features + o[s + 2] * channels, d = features + o[s + 3] * channels
                        let (wa, wb, wc, wd) = (w[s], w[s + 1], w[s + 2], w[s + 3])
                        for k in 0..<channels { sum[k] += wa * a[k] + wb * b[k] + wc * c[k] + wd * d[k] }
                    }
                    let target = out + bin * channels
                    for k in 0..<channels { target[k] = sum[k] / count }
                }
            }
        }
    }

    /// Each bin's samples, four neighbours each (pixel offsets and weights, bin-major):
    /// the same for every channel, so computed once per box, into tables read unchecked.
    private static func withSamples(
        box: Box, height: Int, width: Int, spatialScale: Float, size: Int, grid: Int,
        _ body: (UnsafePointer<Int>, UnsafePointer<Float>) -> Void
    ) {
        let startW = box.x1 * spatialScale, startH = box.y1 * spatialScale
        let roiW = max(box.x2 * spatialScale - startW, 1), roiH = max(box.y2 * spatialScale - startH, 1)
        let binH = roiH / Float(size), binW = roiW / Float(size)
        let entries = 4 * size * size * grid * grid
        withUnsafeTemporaryAllocation(of: Int.self, capacity: entries) { offsets in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: entries) { weights in
                let o = offsets.baseAddress!, w = weights.baseAddress!
                var s = 0
                for ph in 0..<size {
                    for pw in 0..<size {
                        for iy in 0..<grid {
                            let y = startH + Float(ph) * binH + (Float(iy) + 0.5) * binH / Float(grid)
                            for ix in 0..<grid {
                                let x = startW + Float(pw) * binW + (Float(ix) + 0.5) * binW / Float(grid)
                                let (offset, weight) = bilinear(y: y, x: x, height: height, width: width)
                                (o[s], o[s + 1], o[s + 2], o[s + 3]) = offset
                                (w[s], w[s + 1], w[s + 2], w[s + 3]) = weight
                                s += 4
                            }
                        }
                    }
                }
                body(o, w)
            }
        }
    }

    /// Neighbour offsets and weights of a sample; zero weights outside the map.
    static func bilinear(y: Float, x: Float, height: Int, width: Int) -> ((Int, Int, Int, Int), (Float, Float, Float, Float)) {
        if y < -1 || y > Float(height) || x < -1 || x > Float(width) { return ((0, 0, 0, 0), (0, 0, 0, 0)) }
        var y = max(y, 0), x = max(x, 0)
        var yLow = Int(y), xLow = Int(x), yHigh: Int, xHigh: Int
        if yLow >= height - 1 {
            yLow = height - 1
            yHigh = yLow
            y = Float(yLow)
        } else {
            yHigh = yLow + 1
        }
        if xLow >= width - 1 {
            xLow = width - 1
            xHigh = xLow
            x = Float(xLow)
        } else {
            xHigh = xLow + 1
        }
        let ly = y - Float(yLow), lx = x - Float(xLow), hy = 1 - ly, hx = 1 - lx
        return ((yLow * width + xLow, yLow * width + xHigh, yHigh * width + xLow, yHigh * width + xHigh),
                (hy * hx, hy * lx, ly * hx, ly * lx))
    }
}
