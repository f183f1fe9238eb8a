import Engine
import Foundation
import Weights

/// Where a detector's pass is built: memory (addressed as the kernels see it), uploads,
/// kernel launches, network plans, zeroing and timing marks, each queued as the next
/// step. A GPU queues them on a stream (``DetectorPass``); the tests build the same pass
/// on the host (kernels compiled as C++, networks as CPU plans) and hold it to the CPU
/// backend's.
package protocol DetectorPassBuilder: AnyObject {
    associatedtype Network: DetectorPassNetwork
    func buffer(_ bytes: Int) throws -> UInt64
    func upload<T>(_ values: [T]) throws -> UInt64
    /// `graph` compiled with the pass's weights and precision (not yet queued).
    func network(_ graph: Graph) throws -> Network
    func launch(_ name: String, count: Int?, blocks: Int?, threads: Int, _ arguments: [KernelLaunch.Argument])
    /// Queues `network`: its input read, its outputs written.
    func run(_ network: Network)
    /// Queues `bytes` (a multiple of 4) at `address` set to zero.
    func zero(_ address: UInt64, bytes: Int)
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
}

/// Where a built pass takes its input and leaves its outputs.
package struct DetectorPassLayout: Sendable {
    package var input: (address: UInt64, bytes: Int)
    package var outputs: [(address: UInt64, bytes: Int)]
}

/// A ``DetectorProgram`` lowered to the detector's kernels (``DetectionKernels``) and
/// network plans: every buffer placed, each step its kernel launches. The scratch the
/// kernels need beyond the program's buffers (selection keys, sorting space, NMS's
/// ranked rows and mask) is one region each, sized for the largest step, as the steps
/// run in order.
package enum DetectorLowering {
    package static func lower<B: DetectorPassBuilder>(_ program: DetectorProgram, into builder: B) throws -> DetectorPassLayout {
        let networks = try program.networks.map { try builder.network($0) }
        let addresses = try program.buffers.map { info -> UInt64 in
            switch info.storage {
            case .work: try builder.buffer(info.byteCount)
            case .floats(let values): try builder.upload(values)
            case .networkInput(let k): networks[k].inputAddress
            case .networkOutput(let k, let j): networks[k].outputAddress(j)
            }
        }
        func at(_ b: DetectorProgram.Buffer) -> KernelLaunch.Argument { .address(addresses[b.id]) }
        let n = program.images

        // Scratch, one region each for the largest step that needs it.
        var keyCount = 1, selectWidth = 1, nmsCandidates = 1
        for step in program.steps {
            switch step {
            case .anchorProposals(let s):
                keyCount = max(keyCount, s.anchors * s.featureHeight * s.featureWidth)
                selectWidth = max(selectWidth, SelectLaunches.width(s.count))
            case .classCandidates(let s):
                keyCount = max(keyCount, s.anchors * s.classes * s.featureHeight * s.featureWidth)
                selectWidth = max(selectWidth, SelectLaunches.width(s.count))
            case .nms(let s):
                nmsCandidates = max(nmsCandidates, s.candidates.perImage)
            default: break
            }
        }
        let keys = try builder.buffer(n * keyCount * 8), selected = try builder.buffer(n * selectWidth * 8)
        let selectScratch = try SelectLaunches.Scratch(segments: n, width: selectWidth, allocate: builder.buffer)
        let keyCounts = try builder.buffer(n * 8)
        let nmsScratch = try NMSLaunches.Scratch(images: n, perImage: nmsCandidates, allocate: builder.buffer)
        let clip = Float(BoxCoder.clip)
        func launch(_ steps: [KernelStep]) {
            for l in steps { builder.launch(l.name, count: l.count, blocks: l.blocks, threads: l.threads, l.arguments) }
        }
        /// The best k of each image's `length` keys into `selected`.
        func select(_ k: Int, of length: Int, lengths: UInt64 = 0) {
            launch(SelectLaunches.launches(segments: n, keys: keys, length: length, lengths: lengths, stride: length, k: k,
                                           out: selected, scratch: selectScratch))
        }

        for (index, step) in program.steps.enumerated() {
            switch step {
            case .network(let k): builder.run(networks[k])
            case .zero(let b): builder.zero(addresses[b.id], bytes: program[b].byteCount)
            case .transform(let t):
                let count = t.images * t.channels * t.padded.height * t.padded.width
                builder.launch("mgpr_det_transform", count: count, [
                    at(t.source), .int(Int32(t.pixels.bytesPerSample)), .float(t.pixels.scale), at(t.destination),
                    .address(try builder.upload(t.scale)), .address(try builder.upload(t.shift)),
                    .int(Int32(t.channels)), .int(Int32(t.height)), .int(Int32(t.width)), .int(Int32(t.resized.height)),
                    .int(Int32(t.resized.width)), .int(Int32(t.padded.height)), .int(Int32(t.padded.width)), .long(Int64(count)),
                ])
            case .anchorProposals(let s):
                let plane = s.featureHeight * s.featureWidth, length = s.anchors * plane
                builder.launch("mgpr_det_rpn_keys", count: n * length, [
                    at(s.objectness), .address(keys), .int(Int32(s.anchors)), .long(Int64(plane)), .long(Int64(n * length)),
                ])
                select(s.count, of: length)
                builder.launch("mgpr_det_rpn_decode", count: n * s.count, [
                    .address(selected), .int(Int32(s.count)), at(s.objectness), at(s.deltas), .int(Int32(s.anchors)),
                    .int(Int32(s.featureWidth)), .long(Int64(plane)), .float(s.stride.x), .float(s.stride.y),
                    .address(try builder.upload(s.cell)), .int(Int32(s.level)), .int(Int32(s.into.perImage)), .int(Int32(s.firstSlot)),
                    .float(s.bounds.width), .float(s.bounds.height), .float(clip), at(s.into.boxes), at(s.into.scores),
                    at(s.into.groups), at(s.into.valid), .long(Int64(n * s.count)),
                ])
            case .classCandidates(let s):
                let plane = s.featureHeight * s.featureWidth, length = s.anchors * s.classes * plane
                // Only the scores above the threshold, compacted: the selection reads just those.
                builder.zero(keyCounts, bytes: n * 8)
                launch([SelectLaunches.classKeys(
                    segments: n, logits: addresses[s.logits.id], anchors: s.anchors, classes: s.classes, plane: plane,
                    threshold: s.threshold, keys: keys, counts: keyCounts)])
                select(s.count, of: length, lengths: keyCounts)
                builder.launch("mgpr_det_class_decode", count: n * s.count, [
                    .address(selected), .int(Int32(s.count)), at(s.logits), at(s.regression), .int(Int32(s.anchors)),
                    .int(Int32(s.classes)), .int(Int32(s.featureWidth)), .long(Int64(plane)), .float(s.stride.x), .float(s.stride.y),
                    .address(try builder.upload(s.cell)), .int(Int32(s.into.perImage)), .int(Int32(s.firstSlot)),
                    .float(s.bounds.width), .float(s.bounds.height), .float(clip), at(s.into.boxes), at(s.into.scores),
                    at(s.into.groups), at(s.into.valid), .long(Int64(n * s.count)),
                ])
            case .nms(let s):
                let c = s.candidates
                launch(NMSLaunches.launches(
                    images: n, perImage: c.perImage, boxes: addresses[c.boxes.id], scores: addresses[c.scores.id],
                    groups: addresses[c.groups.id], valid: addresses[c.valid.id], threshold: s.threshold, limit: s.kept.limit,
                    keptSlots: addresses[s.kept.slots.id], keptCounts: addresses[s.kept.counts.id], scratch: nmsScratch))
            case .gatherBoxes(let s):
                builder.launch("mgpr_det_gather_boxes", count: n * s.kept.limit, [
                    at(s.candidates.boxes), at(s.kept.slots), at(s.kept.counts), .int(Int32(s.candidates.perImage)),
                    .int(Int32(s.kept.limit)), at(s.into), .long(Int64(n * s.kept.limit)),
                ])
            case .roiAlign(let s):
                let levels = try builder.upload(s.levels.map { addresses[$0.features.id] })
                let sizes = try builder.upload(s.levels.flatMap { [Int32($0.height), Int32($0.width)] })
                let scales = try builder.upload(s.levels.map(\.scale))
                let count = s.rows * s.channels * 49
                builder.launch("mgpr_det_roi_align", count: count, [
                    .address(levels), .address(sizes), .address(scales), .int(Int32(s.channels)), at(s.boxes), at(s.counts),
                    .int(Int32(s.rowsPerImage)), .long(Int64(s.firstRow)), at(s.into), .long(Int64(count)),
                ])
            case .boxCandidates(let s):
                builder.launch("mgpr_det_box_candidates", count: s.rows, [
                    at(s.logits), at(s.regression), at(s.proposals), at(s.counts), .int(Int32(s.rowsPerImage)),
                    .long(Int64(s.firstRow)), .int(Int32(s.classes)), .int(Int32(s.perRow)), .float(s.threshold),
                    .float(s.bounds.width), .float(s.bounds.height), .float(clip), at(s.into.boxes), at(s.into.scores),
                    at(s.into.groups), at(s.into.valid), at(s.overflow), .long(Int64(s.rows)),
                ])
            case .gatherDetections(let s):
                builder.launch("mgpr_det_gather", count: n * s.kept.limit, [
                    at(s.candidates.boxes), at(s.candidates.scores), at(s.candidates.groups), at(s.kept.slots), at(s.kept.counts),
                    .int(Int32(s.candidates.perImage)), .int(Int32(s.kept.limit)), .float(s.scale.x), .float(s.scale.y), at(s.into),
                    .long(Int64(n * s.kept.limit)),
                ])
            }
            // A mark wherever the time changes hands between the networks and the detector's own steps.
            let next = program.steps.indices.contains(index + 1) ? program.steps[index + 1].isNetwork : nil
            if next != step.isNetwork { builder.mark(network: step.isNetwork) }
        }
        return DetectorPassLayout(
            input: (addresses[program.input.id], program[program.input].byteCount),
            outputs: program.outputs.map { (addresses[$0.id], program[$0].byteCount) })
    }

    package static func powerOfTwo(atLeast n: Int) -> Int { n <= 1 ? 1 : 1 << (Int.bitWidth - (n - 1).leadingZeroBitCount) }
}
