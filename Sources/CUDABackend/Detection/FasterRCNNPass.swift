import Engine
import Foundation
import Models
import Weights

/// Where a detector's pass is wired: memory (addressed as the kernels see it), uploads,
/// kernel launches, network plans and timing marks, each queued as the next step. A GPU
/// queues them on a stream (``DetectorPass``); the tests run the same wiring on the host
/// (kernels compiled as C++, networks as CPU plans) and hold it to the CPU detector.
package protocol DetectorPassBuilder: AnyObject {
    associatedtype Network: DetectorPassNetwork
    func buffer(_ bytes: Int) throws -> UInt64
    func upload<T>(_ values: [T]) throws -> UInt64
    /// `graph` compiled with the pass's weights and precision (not yet queued).
    func network(_ graph: Graph) throws -> Network
    func launch(_ name: String, count: Int?, blocks: Int?, threads: Int, _ arguments: [KernelLaunch.Argument])
    /// Queues `network`: its input read, its outputs written.
    func run(_ network: Network)
    /// A timing mark: the time since the previous one was the network's (or the detector's own steps').
    func mark(network: Bool)
}

extension DetectorPassBuilder {
    package func launch(_ name: String, count: Int? = nil, blocks: Int? = nil, threads: Int = 256, _ arguments: [KernelLaunch.Argument]) {
        launch(name, count: count, blocks: blocks, threads: threads, arguments)
    }
}

/// A network inside a pass: NCHW float32 in and out, at fixed addresses.
package protocol DetectorPassNetwork {
    var inputAddress: UInt64 { get }
    func outputAddress(_ k: Int) -> UInt64
    var outputShapes: [Shape4] { get }
}

/// Where a wired pass takes its tiles and leaves its detections.
package struct DetectorPassLayout: Sendable {
    /// The tiles: `images` x 3 x height x width float32 in [0, 1].
    package var input: UInt64
    package var inputBytes: Int
    /// Per image a count, then `limit` rows of (x1, y1, x2, y2, score, label) floats; after
    /// them the overflow counter (Int32), which must be zeroed before each run.
    package var results: UInt64
    package var resultBytes: Int
    package var images: Int
    package var limit: Int

    /// The detections from a copy of the results at `host`; throws when a proposal had
    /// more class scores above the threshold than a softmax allows.
    package func detections(in host: UnsafeRawPointer) throws -> [[Detection]] {
        let overflow = host.load(fromByteOffset: resultBytes - 4, as: Int32.self)
        if overflow != 0 {
            throw EngineError.unsupported("\(overflow) proposal(s) had more class scores above the threshold than a softmax allows")
        }
        let values = host.assumingMemoryBound(to: Float.self)
        return (0..<images).map { image in
            let base = values + image * (1 + 6 * limit)
            return (0..<Int(base[0])).map { j in
                let v = base + 1 + 6 * j
                return Detection(box: Box(v[0], v[1], v[2], v[3]), label: Int(v[5]), score: v[4])
            }
        }
    }
}

/// torchvision's fasterrcnn_resnet50_fpn (v1) as one pass of fixed shapes: the transform,
/// the backbone with FPN and RPN head, per level the best anchors decoded, NMS, the
/// proposals pooled (MultiScaleRoIAlign) through the box head a few images at a time,
/// and the class-wise post-processing, each a kernel of ``DetectionKernels`` or a network.
package enum FasterRCNNPass {
    package static func wire<B: DetectorPassBuilder>(
        _ builder: B, classes: Int, settings: DetectorSettings, images n: Int, height: Int, width: Int
    ) throws -> DetectorPassLayout {
        let transform = DetectorTransform(minSize: settings.minSize, maxSize: settings.maxSize, normalization: ResNet50.preprocessing)
        let (rh, rw) = transform.resized(height: height, width: width)
        let (ph, pw) = transform.padded(height: height, width: width)
        let backbone = try builder.network(FasterRCNNBackbone.graph(batch: n, height: ph, width: pw, bnEps: settings.bnEps))
        // The box head runs over the proposals of a few images at a time: its input
        // (256 x 7 x 7 floats per proposal) is the pass's largest buffer.
        let rows = settings.rpnPostNMSTopN, limit = settings.detectionsPerImage
        let headImages = (1...min(n, 4)).last { n % $0 == 0 }!
        let head = try builder.network(FasterRCNN.boxHead(rows: headImages * rows, classes: classes))

        // The transform, into the backbone's input.
        let input = try builder.buffer(n * 3 * height * width * 4)
        let norm = ResNet50.preprocessing
        let scale = try builder.upload((0..<3).map { 1 / norm.std[$0] })
        let shift = try builder.upload((0..<3).map { -norm.mean[$0] / norm.std[$0] })
        builder.launch("mgpr_det_transform", count: n * 3 * ph * pw, [
            .address(input), .address(backbone.inputAddress), .address(scale), .address(shift),
            .int(3), .int(Int32(height)), .int(Int32(width)), .int(Int32(rh)), .int(Int32(rw)), .int(Int32(ph)), .int(Int32(pw)),
            .long(Int64(n * 3 * ph * pw)),
        ])
        builder.run(backbone)
        builder.mark(network: true)

        // Proposals: per level the best rpnPreNMSTopN anchors, decoded and clipped; then
        // NMS across them per level group, the best rpnPostNMSTopN kept.
        let shapes = backbone.outputShapes, levels = 5, a = FasterRCNNBackbone.anchorsPerLocation
        let k = settings.rpnPreNMSTopN, perImage = levels * k, clip = BoxCoder.clip
        let candidateBoxes = try builder.buffer(n * perImage * 16), candidateScores = try builder.buffer(n * perImage * 4)
        let candidateGroups = try builder.buffer(n * perImage * 4), candidateValid = try builder.buffer(n * perImage * 4)
        let selected = try builder.buffer(n * k * 8)
        let keys = try builder.buffer(n * shapes[0].h * shapes[0].w * a * 8)
        let selectWidth = powerOfTwo(atLeast: k)
        let nmsWidth = max(selectWidth, powerOfTwo(atLeast: perImage))
        let scratch = try builder.buffer(n * nmsWidth * 8)
        for level in 0..<levels {
            let s = shapes[level], plane = s.h * s.w
            let objectness = backbone.outputAddress(5 + 2 * level), deltas = backbone.outputAddress(6 + 2 * level)
            builder.launch("mgpr_det_rpn_keys", count: n * a * plane, [
                .address(objectness), .address(keys), .int(Int32(a)), .long(Int64(plane)), .long(Int64(n * a * plane)),
            ])
            builder.launch("mgpr_det_select", blocks: n, threads: 1024, [
                .address(keys), .long(Int64(a * plane)), .long(Int64(a * plane)), .int(Int32(k)), .address(scratch),
                .int(Int32(selectWidth)), .address(selected),
            ])
            let cell = try builder.upload(Anchors.cell(sizes: [Anchors.sizes[level]]).flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] })
            builder.launch("mgpr_det_rpn_decode", count: n * k, [
                .address(selected), .int(Int32(k)), .address(objectness), .address(deltas), .int(Int32(a)), .int(Int32(s.w)),
                .long(Int64(plane)), .float(Float(pw / s.w)), .float(Float(ph / s.h)), .address(cell), .int(Int32(level)),
                .int(Int32(levels)), .float(Float(rw)), .float(Float(rh)), .float(clip), .address(candidateBoxes),
                .address(candidateScores), .address(candidateGroups), .address(candidateValid),
                .long(Int64(n * k)),
            ])
        }
        let keptWork = try builder.buffer(n * max(rows, limit) * 6 * 4), keptSlots = try builder.buffer(n * max(rows, limit) * 4)
        let proposalCounts = try builder.buffer(n * 4), proposals = try builder.buffer(n * rows * 16)
        builder.launch("mgpr_det_nms", blocks: n, threads: 1024, [
            .address(candidateBoxes), .address(candidateScores), .address(candidateGroups),
            .address(candidateValid), .int(Int32(perImage)), .address(scratch), .int(Int32(nmsWidth)),
            .float(settings.rpnNMSThreshold), .int(Int32(rows)), .address(keptWork), .address(keptSlots),
            .address(proposalCounts),
        ])
        builder.launch("mgpr_det_gather_boxes", count: n * rows, [
            .address(candidateBoxes), .address(keptSlots), .address(proposalCounts), .int(Int32(perImage)),
            .int(Int32(rows)), .address(proposals), .long(Int64(n * rows)),
        ])
        builder.mark(network: false)

        // The box head, a few images' proposals at a time: pooled, through the head, and
        // each row's class boxes that pass the score threshold as candidates.
        let perRow = candidatesPerRow(classes: classes, scoreThreshold: settings.scoreThreshold)
        let finalPerImage = rows * perRow
        let finalBoxes = try builder.buffer(n * finalPerImage * 16), finalScores = try builder.buffer(n * finalPerImage * 4)
        let finalLabels = try builder.buffer(n * finalPerImage * 4), finalValid = try builder.buffer(n * finalPerImage * 4)
        let resultFloats = n * (1 + 6 * limit)
        let results = try builder.buffer(resultFloats * 4 + 4)
        let overflow = results + UInt64(resultFloats * 4)
        let levelTable = try builder.upload((0..<4).map { backbone.outputAddress($0) })
        let sizes = try builder.upload((0..<4).flatMap { [Int32(shapes[$0].h), Int32(shapes[$0].w)] })
        // torchvision infers each level's scale from the resized image size, as a power of two.
        let scales = try builder.upload((0..<4).map { powf(2, log2f(Float(shapes[$0].h) / Float(rh)).rounded()) })
        let chunkRows = headImages * rows, channels = FasterRCNNBackbone.channels
        for first in stride(from: 0, to: n * rows, by: chunkRows) {
            builder.launch("mgpr_det_roi_align", count: chunkRows * channels * 49, [
                .address(levelTable), .address(sizes), .address(scales), .int(Int32(channels)),
                .address(proposals), .address(proposalCounts), .int(Int32(rows)), .long(Int64(first)),
                .address(head.inputAddress), .long(Int64(chunkRows * channels * 49)),
            ])
            builder.mark(network: false)
            builder.run(head)
            builder.mark(network: true)
            builder.launch("mgpr_det_box_candidates", count: chunkRows, [
                .address(head.outputAddress(0)), .address(head.outputAddress(1)), .address(proposals),
                .address(proposalCounts), .int(Int32(rows)), .long(Int64(first)), .int(Int32(classes)), .int(Int32(perRow)),
                .float(settings.scoreThreshold), .float(Float(rw)), .float(Float(rh)), .float(clip), .address(finalBoxes),
                .address(finalScores), .address(finalLabels), .address(finalValid), .address(overflow),
                .long(Int64(chunkRows)),
            ])
            builder.mark(network: false)
        }

        // Class-wise NMS, the best detectionsPerImage, boxes back to the tile's pixels.
        let finalWidth = powerOfTwo(atLeast: finalPerImage)
        let finalScratch = try builder.buffer(n * finalWidth * 8)
        let detectionCounts = try builder.buffer(n * 4)
        builder.launch("mgpr_det_nms", blocks: n, threads: 1024, [
            .address(finalBoxes), .address(finalScores), .address(finalLabels), .address(finalValid),
            .int(Int32(finalPerImage)), .address(finalScratch), .int(Int32(finalWidth)), .float(settings.nmsThreshold),
            .int(Int32(limit)), .address(keptWork), .address(keptSlots), .address(detectionCounts),
        ])
        builder.launch("mgpr_det_gather", count: n * limit, [
            .address(finalBoxes), .address(finalScores), .address(finalLabels), .address(keptSlots),
            .address(detectionCounts), .int(Int32(finalPerImage)), .int(Int32(limit)),
            .float(Float(width) / Float(rw)), .float(Float(height) / Float(rh)), .address(results), .long(Int64(n * limit)),
        ])
        builder.mark(network: false)
        return DetectorPassLayout(
            input: input, inputBytes: n * 3 * height * width * 4, results: results, resultBytes: resultFloats * 4 + 4, images: n,
            limit: limit)
    }

    package static func powerOfTwo(atLeast n: Int) -> Int { n <= 1 ? 1 : 1 << (Int.bitWidth - (n - 1).leadingZeroBitCount) }

    /// At most this many classes of one proposal can pass `scoreThreshold`: softmax
    /// scores sum to 1 (one spare for rounding), and there are classes - 1 foreground ones.
    package static func candidatesPerRow(classes: Int, scoreThreshold: Float) -> Int {
        guard scoreThreshold > 0 else { return classes - 1 }
        return max(1, min(classes - 1, Int((1 / Double(scoreThreshold)).rounded(.up))))
    }
}
