import CUDA
import Engine
import Foundation
import Models
import Weights

/// One pass of ``CUDAFasterRCNN`` for a fixed number of tiles of one size: its two plans
/// (backbone with FPN and RPN head; box head), every buffer between them, and the
/// launches of the detector's kernels, all queued on one stream. Nothing in it depends
/// on the pixels' values but the counts on the device, so it is captured once as a
/// CUDA graph and replayed.
package final class DetectorPass {
    let images: Int
    private let device: CUDADevice
    private let stream: CUDAStream
    private let plans: [CUDAPlan]
    private var steps: [Step]
    private let buffers: [DeviceBuffer]
    private let input: DeviceBuffer
    private let results: DeviceBuffer
    /// Detections (a count, then limit x 6 floats per image) and the overflow counter.
    private let resultBytes: Int
    private let hostResults: PinnedBuffer
    private let limit: Int
    private let timeline: Timeline
    private var graph: OpaquePointer?
    /// Of a run's GPU time, the share in the network, as the last step-by-step run
    /// measured it between its marks (a replayed graph's events give only its whole time).
    private var networkShare: Double?
    /// Seconds the last run spent copying and in the network (its own kernels are the rest).
    private(set) var times = (copy: 0.0, network: 0.0)

    private enum Step {
        case kernel(KernelLaunch)
        case plan(CUDAPlan)
        /// CUDAEvent `index` of the timeline; the time since the previous one was the
        /// network's (else the detector's own steps).
        case mark(index: Int, network: Bool)
    }

    var memoryBytes: Int { plans.reduce(0) { $0 + $1.memoryBytes } + buffers.reduce(0) { $0 + $1.bytes } }

    init(
        backend: CUDABackend, weights: WeightStore, precision: Precision, classes: Int, settings: DetectorSettings,
        images n: Int, height: Int, width: Int
    ) throws {
        let device = backend.device
        let d = device.driver
        try device.makeCurrent()
        let stream = try CUDAStream(device: device)
        let type = precision.elementType
        let module = try backend.module(type), kernels = try backend.detectionModule()
        let transform = DetectorTransform(minSize: settings.minSize, maxSize: settings.maxSize, normalization: ResNet50.preprocessing)
        let (rh, rw) = transform.resized(height: height, width: width)
        let (ph, pw) = transform.padded(height: height, width: width)
        let backbone = try CUDAPlan(
            graph: FasterRCNNBackbone.graph(batch: n, height: ph, width: pw, bnEps: settings.bnEps), weights: weights, type: type,
            tf32: backend.tf32, device: device, module: module, stream: stream)
        // The box head runs over the proposals of a few images at a time: its input
        // (256 x 7 x 7 floats per proposal) is the pass's largest buffer.
        let rows = settings.rpnPostNMSTopN, limit = settings.detectionsPerImage
        let headImages = (1...min(n, 4)).last { n % $0 == 0 }!
        let head = try CUDAPlan(
            graph: FasterRCNN.boxHead(rows: headImages * rows, classes: classes), weights: weights, type: type, tf32: backend.tf32,
            device: device, module: module, stream: stream)

        var steps: [Step] = [], buffers: [DeviceBuffer] = [], marks = 2
        func buffer(_ bytes: Int) throws -> DeviceBuffer {
            let b = try device.allocate(bytes)
            buffers.append(b)
            return b
        }
        func upload<T>(_ values: [T]) throws -> DeviceBuffer {
            let b = try buffer(values.count * MemoryLayout<T>.stride)
            try values.withUnsafeBytes { try d.check(d.cuMemcpyHtoDAsync(b.address, $0.baseAddress, $0.count, stream.handle), "cuMemcpyHtoDAsync") }
            return b
        }
        func launch(_ name: String, count: Int? = nil, blocks: Int? = nil, threads: Int = 256, _ arguments: [KernelLaunch.Argument]) {
            steps.append(.kernel(KernelLaunch(kernels, name, device: device, count: count, blocks: blocks, threads: threads, arguments)))
        }
        func mark(network: Bool) {
            steps.append(.mark(index: marks, network: network))
            marks += 1
        }

        // The transform, into the backbone's input.
        let input = try buffer(n * 3 * height * width * 4)
        let norm = ResNet50.preprocessing
        let scale = try upload((0..<3).map { 1 / norm.std[$0] }), shift = try upload((0..<3).map { -norm.mean[$0] / norm.std[$0] })
        launch("mgpr_det_transform", count: n * 3 * ph * pw, [
            .address(input.address), .address(backbone.inputAddress), .address(scale.address), .address(shift.address),
            .int(3), .int(Int32(height)), .int(Int32(width)), .int(Int32(rh)), .int(Int32(rw)), .int(Int32(ph)), .int(Int32(pw)),
            .long(Int64(n * 3 * ph * pw)),
        ])
        steps.append(.plan(backbone))
        mark(network: true)

        // Proposals: per level the best rpnPreNMSTopN anchors, decoded and clipped; then
        // NMS across them per level group, the best rpnPostNMSTopN kept.
        let shapes = backbone.outputShapes, levels = 5, a = FasterRCNNBackbone.anchorsPerLocation
        let k = settings.rpnPreNMSTopN, perImage = levels * k, clip = BoxCoder.clip
        let candidateBoxes = try buffer(n * perImage * 16), candidateScores = try buffer(n * perImage * 4)
        let candidateGroups = try buffer(n * perImage * 4), candidateValid = try buffer(n * perImage * 4)
        let selected = try buffer(n * k * 8)
        let keys = try buffer(n * shapes[0].h * shapes[0].w * a * 8)
        let selectWidth = Self.powerOfTwo(atLeast: k)
        let nmsWidth = max(selectWidth, Self.powerOfTwo(atLeast: perImage))
        let scratch = try buffer(n * nmsWidth * 8)
        for level in 0..<levels {
            let s = shapes[level], plane = s.h * s.w
            let objectness = backbone.outputAddress(5 + 2 * level), deltas = backbone.outputAddress(6 + 2 * level)
            launch("mgpr_det_rpn_keys", count: n * a * plane, [
                .address(objectness), .address(keys.address), .int(Int32(a)), .long(Int64(plane)), .long(Int64(n * a * plane)),
            ])
            launch("mgpr_det_select", blocks: n, threads: 1024, [
                .address(keys.address), .long(Int64(a * plane)), .long(Int64(a * plane)), .int(Int32(k)), .address(scratch.address),
                .int(Int32(selectWidth)), .address(selected.address),
            ])
            let cell = try upload(Anchors.cell(sizes: [Anchors.sizes[level]]).flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] })
            launch("mgpr_det_rpn_decode", count: n * k, [
                .address(selected.address), .int(Int32(k)), .address(objectness), .address(deltas), .int(Int32(a)), .int(Int32(s.w)),
                .long(Int64(plane)), .float(Float(pw / s.w)), .float(Float(ph / s.h)), .address(cell.address), .int(Int32(level)),
                .int(Int32(levels)), .float(Float(rw)), .float(Float(rh)), .float(clip), .address(candidateBoxes.address),
                .address(candidateScores.address), .address(candidateGroups.address), .address(candidateValid.address),
                .long(Int64(n * k)),
            ])
        }
        let keptWork = try buffer(n * max(rows, limit) * 6 * 4), keptSlots = try buffer(n * max(rows, limit) * 4)
        let proposalCounts = try buffer(n * 4), proposals = try buffer(n * rows * 16)
        launch("mgpr_det_nms", blocks: n, threads: 1024, [
            .address(candidateBoxes.address), .address(candidateScores.address), .address(candidateGroups.address),
            .address(candidateValid.address), .int(Int32(perImage)), .address(scratch.address), .int(Int32(nmsWidth)),
            .float(settings.rpnNMSThreshold), .int(Int32(rows)), .address(keptWork.address), .address(keptSlots.address),
            .address(proposalCounts.address),
        ])
        launch("mgpr_det_gather_boxes", count: n * rows, [
            .address(candidateBoxes.address), .address(keptSlots.address), .address(proposalCounts.address), .int(Int32(perImage)),
            .int(Int32(rows)), .address(proposals.address), .long(Int64(n * rows)),
        ])
        mark(network: false)

        // The box head, a few images' proposals at a time: pooled, through the head, and
        // each row's class boxes that pass the score threshold as candidates.
        let perRow = Self.candidatesPerRow(classes: classes, scoreThreshold: settings.scoreThreshold)
        let finalPerImage = rows * perRow
        let finalBoxes = try buffer(n * finalPerImage * 16), finalScores = try buffer(n * finalPerImage * 4)
        let finalLabels = try buffer(n * finalPerImage * 4), finalValid = try buffer(n * finalPerImage * 4)
        let resultFloats = n * (1 + 6 * limit)
        let results = try buffer(resultFloats * 4 + 4)
        let overflow = results.address + UInt64(resultFloats * 4)
        let levelTable = try upload((0..<4).map { backbone.outputAddress($0) })
        let sizes = try upload((0..<4).flatMap { [Int32(shapes[$0].h), Int32(shapes[$0].w)] })
        // torchvision infers each level's scale from the resized image size, as a power of two.
        let scales = try upload((0..<4).map { powf(2, log2f(Float(shapes[$0].h) / Float(rh)).rounded()) })
        let chunkRows = headImages * rows, channels = FasterRCNNBackbone.channels
        for first in stride(from: 0, to: n * rows, by: chunkRows) {
            launch("mgpr_det_roi_align", count: chunkRows * channels * 49, [
                .address(levelTable.address), .address(sizes.address), .address(scales.address), .int(Int32(channels)),
                .address(proposals.address), .address(proposalCounts.address), .int(Int32(rows)), .long(Int64(first)),
                .address(head.inputAddress), .long(Int64(chunkRows * channels * 49)),
            ])
            mark(network: false)
            steps.append(.plan(head))
            mark(network: true)
            launch("mgpr_det_box_candidates", count: chunkRows, [
                .address(head.outputAddress(0)), .address(head.outputAddress(1)), .address(proposals.address),
                .address(proposalCounts.address), .int(Int32(rows)), .long(Int64(first)), .int(Int32(classes)), .int(Int32(perRow)),
                .float(settings.scoreThreshold), .float(Float(rw)), .float(Float(rh)), .float(clip), .address(finalBoxes.address),
                .address(finalScores.address), .address(finalLabels.address), .address(finalValid.address), .address(overflow),
                .long(Int64(chunkRows)),
            ])
            mark(network: false)
        }

        // Class-wise NMS, the best detectionsPerImage, boxes back to the tile's pixels.
        let finalWidth = Self.powerOfTwo(atLeast: finalPerImage)
        let finalScratch = try buffer(n * finalWidth * 8)
        let detectionCounts = try buffer(n * 4)
        launch("mgpr_det_nms", blocks: n, threads: 1024, [
            .address(finalBoxes.address), .address(finalScores.address), .address(finalLabels.address), .address(finalValid.address),
            .int(Int32(finalPerImage)), .address(finalScratch.address), .int(Int32(finalWidth)), .float(settings.nmsThreshold),
            .int(Int32(limit)), .address(keptWork.address), .address(keptSlots.address), .address(detectionCounts.address),
        ])
        launch("mgpr_det_gather", count: n * limit, [
            .address(finalBoxes.address), .address(finalScores.address), .address(finalLabels.address), .address(keptSlots.address),
            .address(detectionCounts.address), .int(Int32(finalPerImage)), .int(Int32(limit)),
            .float(Float(width) / Float(rw)), .float(Float(height) / Float(rh)), .address(results.address), .long(Int64(n * limit)),
        ])
        mark(network: false)
        try stream.synchronize("detector set-up")

        images = n
        self.device = device
        self.stream = stream
        plans = [backbone, head]
        self.steps = steps
        self.buffers = buffers
        self.input = input
        self.results = results
        resultBytes = resultFloats * 4 + 4
        hostResults = try PinnedBuffer(device: device, bytes: resultBytes)
        self.limit = limit
        // 0: start, 1: tiles copied, the marks, then the end of the work and of the copy back.
        timeline = try Timeline(device: device, count: marks + 2)
        if ProcessInfo.processInfo.environment["MGPR_CUDA_GRAPHS"] != "0" { graph = try? capture() }
    }

    /// The plans, buffers, events and stream go with their last holder: the stream after
    /// every plan that queues on it.
    deinit {
        try? stream.synchronize()
        if let graph, let graphs = device.driver.graphs { _ = graphs.cuGraphExecDestroy(graph) }
    }

    /// Runs the pass on `images` (NCHW float32 tiles in host memory, pinned for speed).
    func run(_ images: UnsafePointer<Float>) throws -> [[Detection]] {
        try device.makeCurrent()
        let d = device.driver, end = timeline.count - 2
        try timeline.record(0, on: stream)
        try d.check(d.cuMemcpyHtoDAsync(input.address, images, input.bytes, stream.handle), "cuMemcpyHtoDAsync (tiles)")
        try d.check(d.cuMemsetD32Async(results.address + UInt64(resultBytes - 4), 0, 1, stream.handle), "cuMemsetD32Async")
        try timeline.record(1, on: stream)
        // The first run goes step by step (its marks measure the network's share), the
        // rest replay the graph.
        let replay = networkShare != nil
        if replay, let graph, let graphs = d.graphs {
            try d.check(graphs.cuGraphLaunch(graph, stream.handle), "cuGraphLaunch (detector)")
        } else {
            try enqueue()
        }
        try timeline.record(end, on: stream)
        try d.check(d.cuMemcpyDtoHAsync(hostResults.pointer, results.address, resultBytes, stream.handle), "cuMemcpyDtoHAsync (detections)")
        try timeline.record(end + 1, on: stream)
        try stream.synchronize("GPU \(device.ordinal)")
        measure(replayed: replay && graph != nil)
        return try detections()
    }

    private func enqueue() throws {
        for step in steps {
            switch step {
            case .kernel(let launch): try launch.launch(device.driver, stream: stream)
            case .plan(let plan): try plan.enqueue()
            case .mark(let index, _): try timeline.record(index, on: stream)
            }
        }
    }

    /// The pass as a CUDA graph, or nil where the driver cannot capture it.
    private func capture() throws -> OpaquePointer? {
        let d = device.driver
        guard let graphs = d.graphs else { return nil }
        try d.check(graphs.cuStreamBeginCapture(stream.handle, Driver.captureThreadLocal), "cuStreamBeginCapture")
        let queued = Result { try enqueue() }
        var captured: OpaquePointer?
        let ended = graphs.cuStreamEndCapture(stream.handle, &captured)
        defer { if let captured { _ = graphs.cuGraphDestroy(captured) } }
        try queued.get()
        try d.check(ended, "cuStreamEndCapture")
        var exec: OpaquePointer?
        try d.check(graphs.cuGraphInstantiateWithFlags(&exec, captured, 0), "cuGraphInstantiateWithFlags")
        return exec
    }

    /// The copy and network seconds of the last run, from its events: the copies from
    /// the events around them; the network from the marks between the steps, or for a
    /// replayed graph, its time in the share the step-by-step run measured.
    private func measure(replayed: Bool) {
        let end = timeline.count - 2
        guard let copyIn = try? timeline.seconds(from: 0, to: 1), let copyOut = try? timeline.seconds(from: end, to: end + 1),
              let work = try? timeline.seconds(from: 1, to: end)
        else { return }
        if !replayed {
            var network = 0.0
            for case .mark(let index, true) in steps { network += (try? timeline.seconds(from: index - 1, to: index)) ?? 0 }
            networkShare = work > 0 ? min(1, network / work) : 0
        }
        times = (copyIn + copyOut, work * (networkShare ?? 1))
    }

    private func detections() throws -> [[Detection]] {
        let overflow = hostResults.pointer.load(fromByteOffset: resultBytes - 4, as: Int32.self)
        if overflow != 0 {
            throw EngineError.unsupported("\(overflow) proposal(s) had more class scores above the threshold than a softmax allows")
        }
        let values = hostResults.pointer.assumingMemoryBound(to: Float.self)
        return (0..<images).map { image in
            let base = values + image * (1 + 6 * limit)
            return (0..<Int(base[0])).map { j in
                let v = base + 1 + 6 * j
                return Detection(box: Box(v[0], v[1], v[2], v[3]), label: Int(v[5]), score: v[4])
            }
        }
    }

    package static func powerOfTwo(atLeast n: Int) -> Int { n <= 1 ? 1 : 1 << (Int.bitWidth - (n - 1).leadingZeroBitCount) }

    /// At most this many classes of one proposal can pass `scoreThreshold`: softmax
    /// scores sum to 1 (one spare for rounding), and there are classes - 1 foreground ones.
    package static func candidatesPerRow(classes: Int, scoreThreshold: Float) -> Int {
        guard scoreThreshold > 0 else { return classes - 1 }
        return max(1, min(classes - 1, Int((1 / Double(scoreThreshold)).rounded(.up))))
    }
}
