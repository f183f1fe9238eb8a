/// Non-maximum suppression as torchvision.ops computes it: boxes by decreasing score,
/// each suppressing the later ones that overlap it by IoU strictly above the threshold.
public enum NMS {
    /// Indices kept, by decreasing score (equal scores by increasing index).
    ///
    /// Greedy over the boxes in score order, copied once into contiguous coordinates and
    /// areas: each box not yet suppressed is kept and marks the later ones it overlaps.
    /// The IoU is `Box.iou`'s, operation for operation, so the same boxes are kept in the
    /// same order as comparing `Box` values pair by pair.
    public static func nms(_ boxes: [Box], scores: [Float], iou threshold: Float) -> [Int] {
        precondition(boxes.count == scores.count, "\(boxes.count) boxes, \(scores.count) scores")
        let order = TopK.indices(scores, count: scores.count)
        let n = order.count
        guard n > 0 else { return [] }
        // Struct of arrays in score order: x1, y1, x2, y2, area.
        var coordinates = [Float](repeating: 0, count: 5 * n)
        coordinates.withUnsafeMutableBufferPointer { c in
            for (rank, i) in order.enumerated() {
                let b = boxes[i]
                (c[rank], c[n + rank], c[2 * n + rank], c[3 * n + rank]) = (b.x1, b.y1, b.x2, b.y2)
                c[4 * n + rank] = b.area
            }
        }
        var suppressed = [UInt8](repeating: 0, count: n)
        var keep: [Int] = []
        coordinates.withUnsafeBufferPointer { c in
            suppressed.withUnsafeMutableBufferPointer { suppressed in
                let x1 = c.baseAddress!, y1 = x1 + n, x2 = x1 + 2 * n, y2 = x1 + 3 * n, area = x1 + 4 * n
                for rank in 0..<n where suppressed[rank] == 0 {
                    keep.append(order[rank])
                    let (ax1, ay1, ax2, ay2, aArea) = (x1[rank], y1[rank], x2[rank], y2[rank], area[rank])
                    // Every later box, branch-free (so it vectorises): marking one already
                    // marked changes nothing, so this keeps what skipping them would.
                    for j in (rank + 1)..<n {
                        let w = max(0, min(ax2, x2[j]) - max(ax1, x1[j]))
                        let h = max(0, min(ay2, y2[j]) - max(ay1, y1[j]))
                        let inter = w * h
                        let over: UInt8 = inter / (aArea + area[j] - inter) > threshold ? 1 : 0
                        suppressed[j] |= over
                    }
                }
            }
        }
        return keep
    }

    /// The Float threshold a Float IoU is compared with, standing for `iou`, a Double:
    /// torchvision compares the IoU, in the boxes' type, with its `iou_threshold` as a
    /// double, so at 0.15 a float32 IoU of exactly 0.15 (0.15000000596 once rounded) is
    /// suppressed. `x > t` for every Float x is `x > ` the largest Float not above t; the
    /// nearest Float (`Float(0.15)`, above it) would keep those ties. Ties are common where
    /// coordinates are whole pixels, as in DeepForest's mosaic.
    public static func threshold(_ iou: Double) -> Float {
        let nearest = Float(iou)
        return Double(nearest) > iou ? nearest.nextDown : nearest
    }

    /// NMS within each group (class or level), results by decreasing score. torchvision
    /// runs it per group above 4000 coordinates on CPU and with coordinate offsets below;
    /// the offsets shift boxes by up to (max coordinate + 1) x group in Float32, which can
    /// round an IoU, so both paths are reproduced as it chooses them.
    public static func batched(_ boxes: [Box], scores: [Float], groups: [Int], iou threshold: Float) -> [Int] {
        guard !boxes.isEmpty else { return [] }
        if boxes.count * 4 > 4000 {
            // Each group's members in increasing index, gathered in one pass.
            var members: [Int: [Int]] = [:]
            for (i, group) in groups.enumerated() { members[group, default: []].append(i) }
            var keep: [Int] = []
            for members in members.values {
                let kept = nms(members.map { boxes[$0] }, scores: members.map { scores[$0] }, iou: threshold)
                keep += kept.map { members[$0] }
            }
            return TopK.sorted(keep, by: scores)
        }
        let maxCoordinate = boxes.map { max($0.x1, $0.y1, $0.x2, $0.y2) }.max()!
        let shifted = boxes.indices.map { i -> Box in
            let offset = Float(groups[i]) * (maxCoordinate + 1)
            let b = boxes[i]
            return Box(b.x1 + offset, b.y1 + offset, b.x2 + offset, b.y2 + offset)
        }
        return nms(shifted, scores: scores, iou: threshold)
    }
}
