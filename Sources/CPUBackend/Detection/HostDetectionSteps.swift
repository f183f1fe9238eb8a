import Engine
import Foundation

/// Each ``DetectionStep`` on the host, as its documentation states it: the CPU backend's
/// implementation and the reference for every other backend's.
enum HostDetectionSteps {
    static func transform(_ t: DetectionStep.Transform, _ b: HostBuffers) {
        let destination = b.floats(t.destination)
        let inPlane = t.channels * t.height * t.width, outPlane = t.channels * t.padded.height * t.padded.width
        for i in 0..<t.images {
            let apply = { (image: UnsafePointer<Float>) in
                ResizeNormalize.apply(
                    image, channels: t.channels, height: t.height, width: t.width, resized: t.resized, padded: t.padded,
                    scale: t.scale, shift: t.shift, into: destination + i * outPlane)
            }
            let stored = b.memory[t.source.id]
            switch t.pixels {
            case .float32: apply(b.floats(t.source) + i * inPlane)
            case .uint8(let scale): converted(stored.assumingMemoryBound(to: UInt8.self) + i * inPlane, count: inPlane, scale, apply)
            case .uint16(let scale): converted(stored.assumingMemoryBound(to: UInt16.self) + i * inPlane, count: inPlane, scale, apply)
            }
        }
    }

    /// `count` stored samples as floats, `Float(sample) * scale` as a reader converts
    /// them, lent to `body`.
    private static func converted<T: UnsignedInteger>(
        _ samples: UnsafePointer<T>, count: Int, _ scale: Float, _ body: (UnsafePointer<Float>) -> Void
    ) {
        let floats = (0..<count).map { Float(samples[$0]) * scale }
        floats.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// The anchor at location `p` (row-major) of a level, anchor `a` of its cell.
    private static func anchor(_ cell: [Float], _ a: Int, location p: Int, featureWidth: Int, stride: (x: Float, y: Float)) -> Box {
        let sx = Float(p % featureWidth) * stride.x, sy = Float(p / featureWidth) * stride.y
        return Box(cell[4 * a] + sx, cell[4 * a + 1] + sy, cell[4 * a + 2] + sx, cell[4 * a + 3] + sy)
    }

    static func anchorProposals(_ s: DetectionStep.AnchorProposals, images: Int, _ b: HostBuffers) {
        let hw = s.featureHeight * s.featureWidth, a = s.anchors, per = s.into.perImage
        let coder = BoxCoder(weights: (1, 1, 1, 1))
        let boxes = b.floats(s.into.boxes), scores = b.floats(s.into.scores), groups = b.ints(s.into.groups), valid = b.ints(s.into.valid)
        for i in 0..<images {
            let objectness = b.floats(s.objectness) + i * a * hw, deltas = b.floats(s.deltas) + i * 4 * a * hw
            // Scores in the RPN's flattening order: location-major, then anchor.
            var logits = [Float](repeating: 0, count: hw * a)
            for p in 0..<hw { for k in 0..<a { logits[p * a + k] = objectness[k * hw + p] } }
            let top = TopK.indices(logits, count: s.count)
            for rank in 0..<s.count {
                let slot = i * per + s.firstSlot + rank
                guard rank < top.count else { valid[slot] = 0; continue }
                let (p, k) = top[rank].quotientAndRemainder(dividingBy: a)
                let d = (deltas[(k * 4) * hw + p], deltas[(k * 4 + 1) * hw + p], deltas[(k * 4 + 2) * hw + p], deltas[(k * 4 + 3) * hw + p])
                let box = coder.decode(d, on: anchor(s.cell, k, location: p, featureWidth: s.featureWidth, stride: s.stride))
                    .clipped(width: s.bounds.width, height: s.bounds.height)
                store(box, at: slot, boxes)
                valid[slot] = box.isAtLeast(1e-3) ? 1 : 0
                scores[slot] = 1 / (1 + expf(-logits[top[rank]]))
                groups[slot] = Int32(s.level)
            }
        }
    }

    static func classCandidates(_ s: DetectionStep.ClassCandidates, images: Int, _ b: HostBuffers) {
        let hw = s.featureHeight * s.featureWidth, a = s.anchors, k = s.classes, per = s.into.perImage
        let coder = BoxCoder(weights: (1, 1, 1, 1))
        let boxes = b.floats(s.into.boxes), scores = b.floats(s.into.scores), groups = b.ints(s.into.groups), valid = b.ints(s.into.valid)
        // The sigmoid is monotonic: logits clearly below the threshold's are skipped
        // unevaluated, the rest compared exactly as torchvision compares the scores.
        let threshold = s.threshold
        let cut = threshold <= 0 ? -Float.infinity : threshold >= 1 ? Float.infinity : logf(threshold / (1 - threshold)) - 0.01
        for i in 0..<images {
            let logits = b.floats(s.logits) + i * a * k * hw, regression = b.floats(s.regression) + i * 4 * a * hw
            var found: [(index: Int, score: Float)] = []
            for channel in 0..<(a * k) {
                let (anchor, label) = channel.quotientAndRemainder(dividingBy: k)
                let plane = logits + channel * hw
                for p in 0..<hw where plane[p] > cut {
                    let score = 1 / (1 + expf(-plane[p]))
                    if score > threshold { found.append(((p * a + anchor) * k + label, score)) }
                }
            }
            found.sort { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
            for rank in 0..<s.count {
                let slot = i * per + s.firstSlot + rank
                guard rank < found.count else { valid[slot] = 0; continue }
                let (anchorIndex, label) = found[rank].index.quotientAndRemainder(dividingBy: k)
                let (p, an) = anchorIndex.quotientAndRemainder(dividingBy: a)
                let d = (regression[(an * 4) * hw + p], regression[(an * 4 + 1) * hw + p],
                         regression[(an * 4 + 2) * hw + p], regression[(an * 4 + 3) * hw + p])
                let box = coder.decode(d, on: anchor(s.cell, an, location: p, featureWidth: s.featureWidth, stride: s.stride))
                    .clipped(width: s.bounds.width, height: s.bounds.height)
                store(box, at: slot, boxes)
                valid[slot] = 1
                scores[slot] = found[rank].score
                groups[slot] = Int32(label)
            }
        }
    }

    static func nms(_ s: DetectionStep.NMSStep, images: Int, _ b: HostBuffers) {
        let c = s.candidates, per = c.perImage, limit = s.kept.limit
        let boxes = b.floats(c.boxes), scores = b.floats(c.scores), groups = b.ints(c.groups), valid = b.ints(c.valid)
        let slots = b.ints(s.kept.slots), counts = b.ints(s.kept.counts)
        for i in 0..<images {
            let members = (i * per..<(i + 1) * per).filter { valid[$0] != 0 }
            let kept = NMS.batched(
                members.map { box(at: $0, boxes) }, scores: members.map { scores[$0] }, groups: members.map { Int(groups[$0]) },
                iou: s.threshold
            ).prefix(limit)
            for (j, m) in kept.enumerated() { slots[i * limit + j] = Int32(members[m] - i * per) }
            counts[i] = Int32(kept.count)
        }
    }

    static func gatherBoxes(_ s: DetectionStep.GatherBoxes, images: Int, _ b: HostBuffers) {
        let limit = s.kept.limit, per = s.candidates.perImage
        let boxes = b.floats(s.candidates.boxes), slots = b.ints(s.kept.slots), counts = b.ints(s.kept.counts), out = b.floats(s.into)
        for i in 0..<images {
            for j in 0..<limit {
                let row = out + (i * limit + j) * 4
                if j < Int(counts[i]) {
                    row.update(from: boxes + (i * per + Int(slots[i * limit + j])) * 4, count: 4)
                } else {
                    row.update(repeating: 0, count: 4)
                }
            }
        }
    }

    /// The rows split between `threads` threads: each row is its own box, written alone.
    static func roiAlign(_ s: DetectionStep.MultiScaleRoIAlign, _ b: HostBuffers, threads: Int) {
        let chunks = max(1, min(threads, s.rows))
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            roiAlign(s, b, rows: (chunk * s.rows / chunks)..<((chunk + 1) * s.rows / chunks))
        }
    }

    private static func roiAlign(_ s: DetectionStep.MultiScaleRoIAlign, _ b: HostBuffers, rows: Range<Int>) {
        let binSize = s.channels * 49, proposals = b.floats(s.boxes), counts = b.ints(s.counts), out = b.floats(s.into)
        for r in rows {
            let row = s.firstRow + r, image = row / s.rowsPerImage, target = out + r * binSize
            guard row % s.rowsPerImage < Int(counts[image]) else { target.update(repeating: 0, count: binSize); continue }
            let box = box(at: row, proposals)
            let k = (4 + log2f(box.area.squareRoot() / 224) + 1e-6).rounded(.down)
            let level = s.levels[Int(min(max(k, 2), 5)) - 2]
            let plane = s.channels * level.height * level.width
            RoIAlign.poolChannelsLast(  // NHWC in and out: CPUDetectorPlan has its plans so
                b.floats(level.features) + image * plane, channels: s.channels, height: level.height, width: level.width, box: box,
                spatialScale: level.scale, size: 7, samplingRatio: 2, into: target)
        }
    }

    static func boxCandidates(_ s: DetectionStep.BoxCandidates, _ b: HostBuffers) {
        let c = s.classes, per = s.perRow
        let coder = BoxCoder(weights: (10, 10, 5, 5))
        let logits = b.floats(s.logits), regression = b.floats(s.regression), proposals = b.floats(s.proposals), counts = b.ints(s.counts)
        let boxes = b.floats(s.into.boxes), scores = b.floats(s.into.scores), groups = b.ints(s.into.groups), valid = b.ints(s.into.valid)
        for local in 0..<s.rows {
            let row = s.firstRow + local, image = row / s.rowsPerImage
            var slot = 0
            if row % s.rowsPerImage < Int(counts[image]) {
                let l = logits + local * c, proposal = box(at: row, proposals)
                var top = l[0]
                for j in 1..<c { top = max(top, l[j]) }
                var sum: Float = 0
                for j in 0..<c { sum += expf(l[j] - top) }
                for label in 1..<c {
                    let score = expf(l[label] - top) / sum
                    guard score > s.threshold else { continue }
                    let r = regression + (local * c + label) * 4
                    let box = coder.decode((r[0], r[1], r[2], r[3]), on: proposal).clipped(width: s.bounds.width, height: s.bounds.height)
                    guard box.isAtLeast(1e-2) else { continue }
                    if slot == per { b.ints(s.overflow)[0] += 1; break }
                    let at = row * per + slot
                    store(box, at: at, boxes)
                    (scores[at], groups[at], valid[at]) = (score, Int32(label), 1)
                    slot += 1
                }
            }
            for rest in slot..<per { valid[row * per + rest] = 0 }
        }
    }

    static func gatherDetections(_ s: DetectionStep.GatherDetections, images: Int, _ b: HostBuffers) {
        let limit = s.kept.limit, per = s.candidates.perImage
        let boxes = b.floats(s.candidates.boxes), scores = b.floats(s.candidates.scores), labels = b.ints(s.candidates.groups)
        let slots = b.ints(s.kept.slots), counts = b.ints(s.kept.counts)
        for i in 0..<images {
            let out = b.floats(s.into) + i * (1 + 6 * limit)
            out[0] = Float(counts[i])
            for j in 0..<Int(counts[i]) {
                let at = i * per + Int(slots[i * limit + j]), box = box(at: at, boxes), d = out + 1 + 6 * j
                (d[0], d[1], d[2], d[3]) = (box.x1 * s.scale.x, box.y1 * s.scale.y, box.x2 * s.scale.x, box.y2 * s.scale.y)
                (d[4], d[5]) = (scores[at], Float(labels[at]))
            }
        }
    }

    private static func box(at slot: Int, _ boxes: UnsafeMutablePointer<Float>) -> Box {
        let v = boxes + slot * 4
        return Box(v[0], v[1], v[2], v[3])
    }

    private static func store(_ box: Box, at slot: Int, _ boxes: UnsafeMutablePointer<Float>) {
        let v = boxes + slot * 4
        (v[0], v[1], v[2], v[3]) = (box.x1, box.y1, box.x2, box.y2)
    }
}
