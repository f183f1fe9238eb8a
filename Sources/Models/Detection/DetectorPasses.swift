import Engine
import Weights

/// A detector's compiled programs on one device, one per pass shape (images, tile size,
/// precision), and the batches run through them `settings.imagesPerPass` images at a
/// time: memory (activations, pyramid, pooled proposals) grows with the images in one
/// pass, while the speed of each image hardly depends on how many share it.
final class DetectorPasses {
    /// A compiled program and where its two outputs land: the detections (per image a
    /// count, then `limit` rows of x1, y1, x2, y2, score, class) and an overflow count.
    private final class Pass {
        let plan: any DetectorPlan
        let limit: Int
        let results: HostBuffer
        /// An int32 count, in the buffer's first four bytes.
        let overflow = HostBuffer(count: 1)

        init(plan: any DetectorPlan, images: Int, limit: Int) {
            (self.plan, self.limit) = (plan, limit)
            results = HostBuffer(count: images * (1 + 6 * limit))
        }

        /// The detections of the pass's images, the first at byte `offset` of `images`.
        func run(_ images: HostBuffer, offset: Int) throws -> [[Detection]] {
            try plan.run(input: images, offset: offset, outputs: [results, overflow])
            let overflowed = overflow.withUnsafeBytes { $0.load(as: Int32.self) }
            if overflowed != 0 {
                throw EngineError.unsupported("\(overflowed) proposal(s) had more class scores above the threshold than a softmax allows")
            }
            return results.withUnsafeBufferPointer { values in
                (0..<(values.count / (1 + 6 * limit))).map { image in
                    let base = image * (1 + 6 * limit)
                    return (0..<Int(values[base])).map { j in
                        let v = base + 1 + 6 * j
                        return Detection(box: Box(values[v], values[v + 1], values[v + 2], values[v + 3]), label: Int(values[v + 5]), score: values[v + 4])
                    }
                }
            }
        }
    }

    private let backend: any Backend
    private let weights: WeightSupply
    private let precision: Precision
    private let imagesPerPass: Int
    private let limit: Int
    /// The program for a pass of (images, height, width) tiles held as given.
    private let describe: (Int, Int, Int, PixelEncoding) -> DetectorProgram
    private var passes: [Key: Pass] = [:]
    private struct Key: Hashable {
        var plan: PlanKey
        var pixels: PixelEncoding
    }
    private(set) var times = (network: 0.0, copy: 0.0)

    init(backend: any Backend, weights: WeightSupply, precision: Precision, settings: DetectorSettings,
         describe: @escaping (Int, Int, Int, PixelEncoding) -> DetectorProgram) {
        (self.backend, self.weights, self.precision, self.describe) = (backend, weights, precision, describe)
        (imagesPerPass, limit) = (max(1, settings.imagesPerPass), settings.detectionsPerImage)
    }

    var memoryBytes: Int { passes.values.reduce(0) { $0 + $1.plan.memoryBytes + $1.results.byteCount } }

    func prepare(count: Int, height: Int, width: Int, pixels: PixelEncoding) throws {
        for images in Set([min(count, imagesPerPass), count % imagesPerPass]) where images > 0 {
            _ = try pass(images: images, height: height, width: width, pixels: pixels)
        }
    }

    func detect(_ images: HostBuffer, pixels: PixelEncoding, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]] {
        precondition(channels == 3, "the detectors take RGB tiles")
        let plane = channels * height * width * pixels.bytesPerSample
        precondition(images.byteCount >= count * plane, "\(count) tiles of \(height) x \(width) \(pixels) in \(images.byteCount) bytes")
        var results: [[Detection]] = []
        results.reserveCapacity(count)
        times = (0, 0)
        for first in stride(from: 0, to: count, by: imagesPerPass) {
            let pass = try pass(images: min(imagesPerPass, count - first), height: height, width: width, pixels: pixels)
            results += try pass.run(images, offset: first * plane)
            times = (times.network + pass.plan.times.network, times.copy + pass.plan.times.copy)
        }
        return results
    }

    private func pass(images: Int, height: Int, width: Int, pixels: PixelEncoding) throws -> Pass {
        let key = Key(plan: PlanKey(input: Shape4(n: images, c: 3, h: height, w: width), precision: precision), pixels: pixels)
        if let pass = passes[key] { return pass }
        let plan = try backend.compile(describe(images, height, width, pixels), weights: try weights.store(), precision: precision)
        let pass = Pass(plan: plan, images: images, limit: limit)
        passes[key] = pass
        return pass
    }
}

extension DetectorProgram {
    /// The common ending of both detectors: class-wise NMS over `candidates`, the best
    /// `limit` per image, boxes scaled back to the tile; the program's outputs are the
    /// detections and `overflow`.
    mutating func finish(_ candidates: Candidates, nms threshold: Float, limit: Int, scale: (x: Float, y: Float), overflow: Buffer) {
        let kept = kept(limit: limit)
        append(.nms(.init(candidates: candidates, threshold: threshold, kept: kept)))
        let results = buffer(.float32, count: images * (1 + 6 * limit))
        append(.gatherDetections(.init(candidates: candidates, kept: kept, scale: scale, into: results)))
        outputs = [results, overflow]
    }

    /// The detector's transform of the tiles into `network`'s input.
    mutating func transform(_ t: DetectorTransform, into network: Network, height: Int, width: Int) {
        append(.transform(.init(
            source: input, destination: network.input, pixels: pixels, images: images, channels: 3, height: height, width: width,
            resized: t.resized(height: height, width: width), padded: t.padded(height: height, width: width), scale: t.scale,
            shift: t.shift)))
    }
}
