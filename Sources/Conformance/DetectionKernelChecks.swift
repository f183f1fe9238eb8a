import CUDA
import CUDABackend
import Engine
import Foundation
import Models
import Tiling

/// The detector's kernels each run on the GPU on seeded inputs and held to the CPU
/// implementation they mirror (`Models`): the transform, top-k, decoding, NMS (both of
/// NMS.batched's paths), MultiScaleRoIAlign and the post-processing. Indices must be
/// identical; values within `tolerance` of the largest reference magnitude (float
/// rounding of exp and log2 may differ by an ulp between the GPU and the host).
public enum DetectionKernelChecks {
    public struct Outcome: Sendable {
        public let name: String
        /// Largest |GPU - CPU| over the largest |CPU|, or the share of indices that differ.
        public let error: Double
        public let tolerance: Double
        public let detail: String
        public var passed: Bool { error <= tolerance }
    }

    public static func run(on backend: CUDABackend) throws -> [Outcome] {
        try run(with: try Launcher(backend: backend))
    }

    /// The checks with the kernels run by `gpu`.
    package static func run(with gpu: any KernelRunner) throws -> [Outcome] {
        var random = SplitMix(7)
        return [
            try transform(gpu, &random, pixels: .float32), try transform(gpu, &random, pixels: .uint8(scale: 1 / 255)),
            try transform(gpu, &random, pixels: .uint16(scale: 1 / 65535)), try topK(gpu, &random, spread: false), try topK(gpu, &random, spread: true), try decode(gpu, &random),
            // As the RPN at 1024 px (five levels of 1000) and Faster R-CNN's heads (1000
            // proposals x 20 class slots) leave them, then few enough for the offsets.
            try nms(gpu, &random, candidates: 4000, groups: 5, limit: 1000, threshold: 0.7),
            try nms(gpu, &random, candidates: 16000, groups: 90, limit: 100, threshold: 0.5),
            try nms(gpu, &random, candidates: 16000, groups: 3, limit: 20000, threshold: 0.3),
            try nms(gpu, &random, candidates: 600, groups: 30, limit: 1000, threshold: 0.5),
            try roiAlign(gpu, &random), try postprocess(gpu, &random), try classCandidates(gpu, &random, threshold: 0.5, count: 1000, spread: false),
            try classCandidates(gpu, &random, threshold: 0.99, count: 4000, spread: true),
        ]
    }

    /// The outcomes as lines for a terminal.
    public static func table(_ outcomes: [Outcome], backend: String) -> String {
        var lines = ["the detector's kernels on \(backend) against the CPU implementation:"]
        for o in outcomes {
            lines.append(String(format: "  %@ %-50@ error %.2e (tolerance %.0e)  %@",
                                o.passed ? "ok  " : "FAIL", o.name, o.error, o.tolerance, o.detail))
        }
        let failed = outcomes.filter { !$0.passed }.count
        lines.append("  \(outcomes.count - failed) of \(outcomes.count) passed")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Max |a - b| / max |b| (0 when both are empty or zero).
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
        let scale = b.reduce(Float(0)) { max($0, abs($1)) }
        let worst = zip(a, b).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        return scale > 0 ? Double(worst / scale) : Double(worst)
    }

    /// The transform from float tiles, or from stored samples (Byte, UInt16) that the
    /// kernel scales as a reader would: the same floats either way.
    static func transform(_ gpu: any KernelRunner, _ random: inout SplitMix, pixels: PixelEncoding) throws -> Outcome {
        let (n, h, w) = (2, 150, 110)
        let t = DetectorTransform(minSize: 200, maxSize: 333, normalization: ResNet50.preprocessing)
        let (rh, rw) = t.resized(height: h, width: w), (ph, pw) = t.padded(height: h, width: w)
        let stored: UInt64, image: [Float]
        switch pixels {
        case .float32:
            image = (0..<(n * 3 * h * w)).map { _ in random.uniform(0, 1) }
            stored = try gpu.upload(image)
        case .uint8(let scale):
            let samples = (0..<(n * 3 * h * w)).map { _ in UInt8(random.uniform(0, 255.99)) }
            (image, stored) = (samples.map { Float($0) * scale }, try gpu.upload(samples))
        case .uint16(let scale):
            let samples = (0..<(n * 3 * h * w)).map { _ in UInt16(random.uniform(0, 65535.99)) }
            (image, stored) = (samples.map { Float($0) * scale }, try gpu.upload(samples))
        }
        var expected = [Float](repeating: 0, count: n * 3 * ph * pw)
        image.withUnsafeBufferPointer { src in
            expected.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    t.apply(UnsafeBufferPointer(rebasing: src[(i * 3 * h * w)...]), channels: 3, height: h, width: w,
                            into: UnsafeMutableBufferPointer(rebasing: dst[(i * 3 * ph * pw)...]))
                }
            }
        }
        let norm = ResNet50.preprocessing
        let out = try gpu.zeros(expected.count * 4)
        try gpu.launch("mgpr_det_transform", count: expected.count, [
            .address(stored), .int(Int32(pixels.bytesPerSample)), .float(pixels.scale), .address(out), .address(try gpu.upload((0..<3).map { 1 / norm.std[$0] })),
            .address(try gpu.upload((0..<3).map { -norm.mean[$0] / norm.std[$0] })), .int(3), .int(Int32(h)), .int(Int32(w)),
            .int(Int32(rh)), .int(Int32(rw)), .int(Int32(ph)), .int(Int32(pw)), .long(Int64(expected.count)),
        ])
        let found: [Float] = try gpu.download(out, count: expected.count)
        return Outcome(name: "transform from \(pixels) (normalise, bilinear resize, pad)", error: relativeError(found, expected), tolerance: 1e-6,
                       detail: "\(n) x 3 x \(h) x \(w) -> \(ph) x \(pw)")
    }

    /// Objectness with many ties (and -0 beside +0), as keys then the best k per image.
    static func levelScores(_ random: inout SplitMix, n: Int, anchors: Int, plane: Int) -> [Float] {
        (0..<(n * anchors * plane)).map { i in i % 97 == 0 ? (i % 2 == 0 ? -0.0 : 0) : Float(Int(random.uniform(-200, 200))) / 16 }
    }

    static func select(_ gpu: any KernelRunner, scores: [Float], n: Int, anchors: Int, plane: Int, k: Int, spread: Bool = false) throws -> [UInt64] {
        let keys = try gpu.zeros(scores.count * 8), out = try gpu.zeros(n * k * 8)
        try gpu.launch("mgpr_det_rpn_keys", count: scores.count, [
            .address(try gpu.upload(scores)), .address(keys), .int(Int32(anchors)), .long(Int64(plane)), .long(Int64(scores.count)),
        ])
        try runSelect(gpu, segments: n, keys: keys, length: anchors * plane, k: k, out: out, spread: spread)
        return try gpu.download(out, count: n * k)
    }

    /// The selection as the lowering launches it, with fresh scratch; spread over blocks
    /// of 2048 keys (several per segment at the checks' sizes) or in one block per segment.
    static func runSelect(_ gpu: any KernelRunner, segments: Int, keys: UInt64, length: Int, lengths: UInt64 = 0, k: Int, out: UInt64,
                          spread: Bool) throws {
        let scratch = try SelectLaunches.Scratch(segments: segments, width: SelectLaunches.width(k), allocate: gpu.zeros)
        try run(gpu, SelectLaunches.launches(segments: segments, keys: keys, length: length, lengths: lengths, stride: length, k: k,
                                             out: out, scratch: scratch, spread: spread, chunk: 2048))
    }

    static func run(_ gpu: any KernelRunner, _ steps: [KernelStep]) throws {
        for l in steps { try gpu.launch(l.name, count: l.count, blocks: l.blocks, threads: l.threads, l.arguments) }
    }

    /// One image's scores in the RPN's order (location-major, then anchor).
    static func rpnOrder(_ scores: [Float], image: Int, anchors: Int, plane: Int) -> [Float] {
        (0..<(anchors * plane)).map { j in scores[(image * anchors + j % anchors) * plane + j / anchors] }
    }

    static func topK(_ gpu: any KernelRunner, _ random: inout SplitMix, spread: Bool) throws -> Outcome {
        let (n, a, plane, k) = (2, 3, 90 * 70, 1000)
        let scores = levelScores(&random, n: n, anchors: a, plane: plane)
        let selected = try select(gpu, scores: scores, n: n, anchors: a, plane: plane, k: k, spread: spread)
        var differing = 0
        for i in 0..<n {
            let expected = TopK.indices(rpnOrder(scores, image: i, anchors: a, plane: plane), count: k)
            let found = selected[(i * k)..<((i + 1) * k)].map { Int($0 & 0xFFFF_FFFF) }
            differing += zip(found, expected).filter { $0 != $1 }.count
        }
        return Outcome(name: spread ? "top-k over several blocks per image (ties)" : "top-k (ties by position)", error: Double(differing) / Double(n * k), tolerance: 0,
                       detail: "best \(k) of \(a * plane) per image, \(n) images")
    }

    static func decode(_ gpu: any KernelRunner, _ random: inout SplitMix) throws -> Outcome {
        let (n, a, fh, fw, k, level, levels) = (2, 3, 50, 40, 600, 2, 5)
        let plane = fh * fw, (width, height) = (Float(fw * 16 - 5), Float(fh * 16 - 9))
        let scores = levelScores(&random, n: n, anchors: a, plane: plane)
        let deltas = (0..<(n * 4 * a * plane)).map { _ in random.uniform(-3, 3) }
        let selected = try select(gpu, scores: scores, n: n, anchors: a, plane: plane, k: k)
        let slots = n * levels * k
        let boxes = try gpu.zeros(slots * 16), probabilities = try gpu.zeros(slots * 4)
        let groups = try gpu.zeros(slots * 4), valid = try gpu.zeros(slots * 4)
        let cell = Anchors.cell(sizes: [Anchors.sizes[level]])
        try gpu.launch("mgpr_det_rpn_decode", count: n * k, [
            .address(try gpu.upload(selected)), .int(Int32(k)), .address(try gpu.upload(scores)), .address(try gpu.upload(deltas)),
            .int(Int32(a)), .int(Int32(fw)), .long(Int64(plane)), .float(16), .float(16),
            .address(try gpu.upload(cell.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] })), .int(Int32(level)), .int(Int32(levels * k)),
            .int(Int32(level * k)),
            .float(width), .float(height), .float(BoxCoder.clip), .address(boxes), .address(probabilities), .address(groups),
            .address(valid), .long(Int64(n * k)),
        ])
        let foundBoxes: [Float] = try gpu.download(boxes, count: slots * 4), foundScores: [Float] = try gpu.download(probabilities, count: slots)
        let foundValid: [Int32] = try gpu.download(valid, count: slots)
        var expectedValues: [Float] = [], foundValues: [Float] = [], validity = 0
        let anchors = Anchors.level(level, featureHeight: fh, featureWidth: fw, imageHeight: fh * 16, imageWidth: fw * 16)
        let coder = BoxCoder(weights: (1, 1, 1, 1))
        for i in 0..<n {
            let order = rpnOrder(scores, image: i, anchors: a, plane: plane)
            for (rank, index) in TopK.indices(order, count: k).enumerated() {
                let (p, anchor) = index.quotientAndRemainder(dividingBy: a)
                let d = (0..<4).map { deltas[((i * a + anchor) * 4 + $0) * plane + p] }
                let box = coder.decode((d[0], d[1], d[2], d[3]), on: anchors[index]).clipped(width: width, height: height)
                let slot = (i * levels + level) * k + rank
                expectedValues += [box.x1, box.y1, box.x2, box.y2, 1 / (1 + expf(-order[index]))]
                foundValues += foundBoxes[(slot * 4)..<(slot * 4 + 4)] + [foundScores[slot]]
                if (foundValid[slot] == 1) != box.isAtLeast(1e-3) { validity += 1 }
            }
        }
        let error = validity > 0 ? 1 : relativeError(foundValues, expectedValues)
        return Outcome(name: "box decoding (anchors, deltas, clip, sigmoid)", error: error, tolerance: 1e-6,
                       detail: "\(n * k) proposals, \(validity) validity differences")
    }

    static func nms(_ gpu: any KernelRunner, _ random: inout SplitMix, candidates: Int, groups groupCount: Int, limit: Int, threshold: Float) throws -> Outcome {
        let n = 2, perImage = candidates + candidates / 4
        var boxes: [Float] = [], scores: [Float] = [], groups: [Int32] = [], valid: [Int32] = []
        for _ in 0..<(n * perImage) {
            let x = random.uniform(0, 400), y = random.uniform(0, 400)
            boxes += [x, y, x + random.uniform(5, 80), y + random.uniform(5, 80)]
            // Scores on a coarse grid: ties, settled by position.
            scores.append(Float(Int(random.uniform(0, 2000))) / 2000)
            groups.append(Int32(random.uniform(0, Float(groupCount))))
            valid.append(random.uniform(0, 1) < Float(candidates) / Float(perImage) ? 1 : 0)
        }
        let slots = try gpu.zeros(n * limit * 4), counts = try gpu.zeros(n * 4)
        try runNMS(gpu, images: n, perImage: perImage, boxes: try gpu.upload(boxes), scores: try gpu.upload(scores),
                   groups: try gpu.upload(groups), valid: try gpu.upload(valid), threshold: threshold, limit: limit,
                   keptSlots: slots, keptCounts: counts)
        let foundSlots: [Int32] = try gpu.download(slots, count: n * limit), foundCounts: [Int32] = try gpu.download(counts, count: n)
        var differing = 0, total = 0, kept: [String] = []
        for i in 0..<n {
            let members = (0..<perImage).filter { valid[i * perImage + $0] == 1 }
            let b = members.map { j in let o = (i * perImage + j) * 4; return Box(boxes[o], boxes[o + 1], boxes[o + 2], boxes[o + 3]) }
            let expected = NMS.batched(b, scores: members.map { scores[i * perImage + $0] }, groups: members.map { Int(groups[i * perImage + $0]) },
                                       iou: threshold).prefix(limit).map { members[$0] }
            let found = foundSlots[(i * limit)..<(i * limit + Int(foundCounts[i]))].map(Int.init)
            differing += abs(found.count - expected.count) + zip(found, expected).filter { $0 != $1 }.count
            total += expected.count
            kept.append("\(found.count) of \(members.count)")
        }
        let path = candidates * 4 > 4000 ? "per group" : "coordinate offsets"
        return Outcome(name: "NMS (\(path))", error: Double(differing) / Double(max(total, 1)), tolerance: 0,
                       detail: "\(groupCount) groups, kept \(kept.joined(separator: ", ")) (limit \(limit), IoU \(threshold))")
    }

    /// NMS's three kernels as the detector's lowering launches them, with fresh scratch.
    static func runNMS(_ gpu: any KernelRunner, images: Int, perImage: Int, boxes: UInt64, scores: UInt64, groups: UInt64,
                       valid: UInt64, threshold: Float, limit: Int, keptSlots: UInt64, keptCounts: UInt64) throws {
        let scratch = try NMSLaunches.Scratch(images: images, perImage: perImage, allocate: gpu.zeros)
        try run(gpu, NMSLaunches.launches(images: images, perImage: perImage, boxes: boxes, scores: scores, groups: groups, valid: valid,
                                          threshold: threshold, limit: limit, keptSlots: keptSlots, keptCounts: keptCounts, scratch: scratch))
    }

    static func roiAlign(_ gpu: any KernelRunner, _ random: inout SplitMix) throws -> Outcome {
        let (n, channels, rows, height) = (2, 8, 60, 400)
        let shapes = [(100, 76), (50, 38), (25, 19), (13, 10)]
        let maps = shapes.map { (h, w) in (0..<(n * channels * h * w)).map { _ in random.uniform(-2, 2) } }
        let scales = shapes.map { powf(2, log2f(Float($0.0) / Float(height)).rounded()) }
        var proposals: [Float] = []
        for _ in 0..<(n * rows) {
            let x = random.uniform(-10, 280), y = random.uniform(-10, 380)
            proposals += [x, y, x + random.uniform(1, 300), y + random.uniform(1, 300)]
        }
        let counts: [Int32] = [Int32(rows), Int32(rows * 2 / 3)]
        let out = try gpu.zeros(n * rows * channels * 49 * 4)
        try gpu.launch("mgpr_det_roi_align", count: n * rows * channels * 49, [
            .address(try gpu.upload(try maps.map { try gpu.upload($0) })), .address(try gpu.upload(shapes.flatMap { [Int32($0.0), Int32($0.1)] })),
            .address(try gpu.upload(scales)), .int(Int32(channels)), .address(try gpu.upload(proposals)), .address(try gpu.upload(counts)),
            .int(Int32(rows)), .long(0), .address(out), .long(Int64(n * rows * channels * 49)),
        ])
        let found: [Float] = try gpu.download(out, count: n * rows * channels * 49)
        var expected = [Float](repeating: 0, count: found.count)
        for i in 0..<n {
            for r in 0..<Int(counts[i]) {
                let o = (i * rows + r) * 4
                let box = Box(proposals[o], proposals[o + 1], proposals[o + 2], proposals[o + 3])
                let level = Int(min(max((4 + log2f(box.area.squareRoot() / 224) + 1e-6).rounded(.down), 2), 5)) - 2
                let (h, w) = shapes[level]
                maps[level].withUnsafeBufferPointer { m in
                    expected.withUnsafeMutableBufferPointer { e in
                        RoIAlign.pool(m.baseAddress! + i * channels * h * w, channels: channels, height: h, width: w, box: box,
                                      spatialScale: scales[level], size: 7, samplingRatio: 2,
                                      into: e.baseAddress! + (i * rows + r) * channels * 49)
                    }
                }
            }
        }
        return Outcome(name: "MultiScaleRoIAlign (4 levels, 7x7, ratio 2)", error: relativeError(found, expected), tolerance: 1e-6,
                       detail: "\(Int(counts[0] + counts[1])) boxes of \(n * rows) rows, the rest zero")
    }

    /// Softmax, per-class decoding, threshold, class-wise NMS and the scaled best, as
    /// FasterRCNN's postprocess.
    static func postprocess(_ gpu: any KernelRunner, _ random: inout SplitMix) throws -> Outcome {
        let (n, rows, classes, limit, perRow) = (2, 300, 11, 50, 20)
        let (width, height, threshold, iou): (Float, Float, Float, Float) = (300, 400, 0.05, 0.5)
        let logits = (0..<(n * rows * classes)).map { _ in random.uniform(-4, 4) }
        let regression = (0..<(n * rows * classes * 4)).map { _ in random.uniform(-2, 2) }
        var proposals: [Float] = []
        for _ in 0..<(n * rows) {
            let x = random.uniform(0, 250), y = random.uniform(0, 330)
            proposals += [x, y, x + random.uniform(4, 50), y + random.uniform(4, 70)]
        }
        let counts: [Int32] = [Int32(rows), Int32(rows / 2)]
        let perImage = rows * perRow, slots = n * perImage
        let boxes = try gpu.zeros(slots * 16), scores = try gpu.zeros(slots * 4), labels = try gpu.zeros(slots * 4)
        let valid = try gpu.zeros(slots * 4), overflow = try gpu.zeros(4), kept = try gpu.zeros(n * limit * 4), keptCounts = try gpu.zeros(n * 4)
        let countsAddress = try gpu.upload(counts), proposalsAddress = try gpu.upload(proposals)
        try gpu.launch("mgpr_det_box_candidates", count: n * rows, [
            .address(try gpu.upload(logits)), .address(try gpu.upload(regression)), .address(proposalsAddress), .address(countsAddress),
            .int(Int32(rows)), .long(0), .int(Int32(classes)), .int(Int32(perRow)), .float(threshold), .float(width), .float(height),
            .float(BoxCoder.clip), .address(boxes), .address(scores), .address(labels), .address(valid), .address(overflow),
            .long(Int64(n * rows)),
        ])
        try runNMS(gpu, images: n, perImage: perImage, boxes: boxes, scores: scores, groups: labels, valid: valid, threshold: iou,
                   limit: limit, keptSlots: kept, keptCounts: keptCounts)
        let results = try gpu.zeros(n * (1 + 6 * limit) * 4)
        try gpu.launch("mgpr_det_gather", count: n * limit, [
            .address(boxes), .address(scores), .address(labels), .address(kept), .address(keptCounts), .int(Int32(perImage)),
            .int(Int32(limit)), .float(2), .float(0.5), .address(results), .long(Int64(n * limit)),
        ])
        let found: [Float] = try gpu.download(results, count: n * (1 + 6 * limit))
        let coder = BoxCoder(weights: (10, 10, 5, 5))
        var expectedValues: [Float] = [], foundValues: [Float] = [], mismatched = 0, total = 0
        for i in 0..<n {
            var b: [Box] = [], s: [Float] = [], l: [Int] = []
            for r in 0..<Int(counts[i]) {
                let row = i * rows + r, x = logits[(row * classes)..<((row + 1) * classes)]
                let top = x.max()!, sum = x.reduce(Float(0)) { $0 + expf($1 - top) }
                let p = Box(proposals[row * 4], proposals[row * 4 + 1], proposals[row * 4 + 2], proposals[row * 4 + 3])
                for label in 1..<classes {
                    let score = expf(x[row * classes + label] - top) / sum
                    let d = (0..<4).map { regression[(row * classes + label) * 4 + $0] }
                    let box = coder.decode((d[0], d[1], d[2], d[3]), on: p).clipped(width: width, height: height)
                    guard score > threshold, box.isAtLeast(1e-2) else { continue }
                    (b, s, l) = (b + [box], s + [score], l + [label])
                }
            }
            let expected = NMS.batched(b, scores: s, groups: l, iou: iou).prefix(limit)
            let base = i * (1 + 6 * limit), count = Int(found[base])
            total += expected.count
            mismatched += abs(count - expected.count)
            for (j, e) in expected.prefix(count).enumerated() {
                let v = found[(base + 1 + 6 * j)..<(base + 7 + 6 * j)].map { $0 }
                if Int(v[5]) != l[e] { mismatched += 1 }
                expectedValues += [b[e].x1 * 2, b[e].y1 * 0.5, b[e].x2 * 2, b[e].y2 * 0.5, s[e]]
                foundValues += v[0..<5]
            }
        }
        let error = mismatched > 0 ? 1 : relativeError(foundValues, expectedValues)
        return Outcome(name: "post-processing (softmax, decode, class NMS, best)", error: error, tolerance: 1e-6,
                       detail: "\(total) detections over \(n) images")
    }

    /// RetinaNet's candidates of one level: sigmoid scores above the threshold (many tied,
    /// settled by position), the best k, decoded on their anchors and clipped, as
    /// torchvision's postprocess_detections takes them.
    /// At the lower threshold more pass than are kept; at the higher, fewer.
    static func classCandidates(_ gpu: any KernelRunner, _ random: inout SplitMix, threshold: Float, count k: Int, spread: Bool) throws -> Outcome {
        let (n, a, classes, fh, fw) = (2, 9, 3, 20, 16)
        let plane = fh * fw, length = a * classes * plane, stride: Float = 8
        let (width, height) = (Float(fw) * stride - 5, Float(fh) * stride - 3)
        let logits = levelScores(&random, n: n, anchors: a * classes, plane: plane)
        let regression = (0..<(n * 4 * a * plane)).map { _ in random.uniform(-3, 3) }
        let cell = Anchors.cell(sizes: Anchors.retinaNetSizes[1])
        let keys = try gpu.zeros(n * length * 8), selected = try gpu.zeros(n * k * 8)
        let logitsAddress = try gpu.upload(logits)
        let counts = try gpu.zeros(n * 8)
        try run(gpu, [SelectLaunches.classKeys(segments: n, logits: logitsAddress, anchors: a, classes: classes, plane: plane,
                                               threshold: threshold, keys: keys, counts: counts)])
        try runSelect(gpu, segments: n, keys: keys, length: length, lengths: counts, k: k, out: selected, spread: spread)
        let boxes = try gpu.zeros(n * k * 16), scores = try gpu.zeros(n * k * 4), groups = try gpu.zeros(n * k * 4)
        let valid = try gpu.zeros(n * k * 4)
        try gpu.launch("mgpr_det_class_decode", count: n * k, [
            .address(selected), .int(Int32(k)), .address(logitsAddress), .address(try gpu.upload(regression)), .int(Int32(a)),
            .int(Int32(classes)), .int(Int32(fw)), .long(Int64(plane)), .float(stride), .float(stride),
            .address(try gpu.upload(cell.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] })), .int(Int32(k)), .int(0), .float(width),
            .float(height), .float(BoxCoder.clip), .address(boxes), .address(scores), .address(groups), .address(valid),
            .long(Int64(n * k)),
        ])
        let foundBoxes: [Float] = try gpu.download(boxes, count: n * k * 4), foundScores: [Float] = try gpu.download(scores, count: n * k)
        let foundGroups: [Int32] = try gpu.download(groups, count: n * k), foundValid: [Int32] = try gpu.download(valid, count: n * k)
        var expectedValues: [Float] = [], foundValues: [Float] = [], differing = 0, taken: [Int] = []
        let coder = BoxCoder(weights: (1, 1, 1, 1))
        for i in 0..<n {
            // torchvision's flattened order: location, anchor, class.
            var above: [(index: Int, score: Float)] = []
            for j in 0..<length {
                let (p, channel) = j.quotientAndRemainder(dividingBy: a * classes)
                let score = 1 / (1 + expf(-logits[(i * a * classes + channel) * plane + p]))
                if score > threshold { above.append((j, score)) }
            }
            above.sort { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
            let best = above.prefix(k)
            taken.append(above.count)
            for rank in 0..<k {
                let slot = i * k + rank
                guard rank < best.count else { differing += foundValid[slot] == 0 ? 0 : 1; continue }
                let (anchorIndex, label) = best[best.startIndex + rank].index.quotientAndRemainder(dividingBy: classes)
                let (p, anchor) = anchorIndex.quotientAndRemainder(dividingBy: a)
                let c = cell[anchor], sx = Float(p % fw) * stride, sy = Float(p / fw) * stride
                let d = (0..<4).map { regression[((i * a + anchor) * 4 + $0) * plane + p] }
                let box = coder.decode((d[0], d[1], d[2], d[3]), on: Box(c.x1 + sx, c.y1 + sy, c.x2 + sx, c.y2 + sy))
                    .clipped(width: width, height: height)
                if foundValid[slot] != 1 || Int(foundGroups[slot]) != label { differing += 1 }
                expectedValues += [box.x1, box.y1, box.x2, box.y2, best[best.startIndex + rank].score]
                foundValues += foundBoxes[(slot * 4)..<(slot * 4 + 4)] + [foundScores[slot]]
            }
        }
        let error = differing > 0 ? 1 : relativeError(foundValues, expectedValues)
        return Outcome(name: "class candidates (threshold, top-k\(spread ? " spread" : ""), decode)", error: error, tolerance: 1e-6,
                       detail: "best \(k) of \(length) per image, \(taken.map(String.init).joined(separator: ", ")) above \(threshold)")
    }
}
