/// Non-maximum suppression as torchvision.ops computes it: boxes by decreasing score,
/// each suppressing the later ones that overlap it by IoU strictly above the threshold.
public enum NMS {
    /// Indices kept, by decreasing score.
    public static func nms(_ boxes: [Box], scores: [Float], iou threshold: Float) -> [Int] {
        let order = boxes.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var suppressed = [Bool](repeating: false, count: boxes.count)
        var keep: [Int] = []
        for (rank, i) in order.enumerated() where !suppressed[i] {
            keep.append(i)
            for j in order[(rank + 1)...] where !suppressed[j] && boxes[i].iou(boxes[j]) > threshold {
                suppressed[j] = true
            }
        }
        return keep
    }

    /// NMS within each group (class or level), results by decreasing score. torchvision
    /// runs it per group above 4000 coordinates on CPU and with coordinate offsets below;
    /// the offsets shift boxes by up to (max coordinate + 1) x group in Float32, which can
    /// round an IoU, so both paths are reproduced as it chooses them.
    public static func batched(_ boxes: [Box], scores: [Float], groups: [Int], iou threshold: Float) -> [Int] {
        guard !boxes.isEmpty else { return [] }
        if boxes.count * 4 > 4000 {
            var keep: [Int] = []
            for group in Set(groups) {
                let members = groups.indices.filter { groups[$0] == group }
                let kept = nms(members.map { boxes[$0] }, scores: members.map { scores[$0] }, iou: threshold)
                keep += kept.map { members[$0] }
            }
            return keep.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
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
