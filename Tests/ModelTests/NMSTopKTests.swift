@testable import Engine
import Models
import Testing

/// The NMS and top-k the detectors run against the plain implementations they replaced
/// (kept here as the reference): the same indices in the same order on random inputs
/// full of equal scores, -0 and +0, equal, empty, inverted and zero-size boxes, and every
/// threshold sign. What those references are held to against torchvision is
/// DetectionOpsTests' and the detectors' suites'.
@Suite("NMS and top-k give the reference implementations' results")
struct NMSTopKTests {
    /// The greedy NMS as it was: a closure sort of all indices, then each kept box
    /// against every later box not yet suppressed, through `Box.iou`.
    static func referenceNMS(_ boxes: [Box], scores: [Float], iou threshold: Float) -> [Int] {
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

    static func referenceBatched(_ boxes: [Box], scores: [Float], groups: [Int], iou threshold: Float) -> [Int] {
        guard !boxes.isEmpty else { return [] }
        if boxes.count * 4 > 4000 {
            var keep: [Int] = []
            for group in Set(groups) {
                let members = groups.indices.filter { groups[$0] == group }
                let kept = referenceNMS(members.map { boxes[$0] }, scores: members.map { scores[$0] }, iou: threshold)
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
        return referenceNMS(shifted, scores: scores, iou: threshold)
    }

    /// The RPN's top-k as it was: every index sorted, then the first k.
    static func referenceTopK(_ scores: [Float], _ k: Int) -> [Int] {
        Array(scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k))
    }

    /// splitmix64: the same cases on every run.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Boxes on a coarse grid (many equal, overlapping, empty and inverted boxes) or a
    /// finer one, scores from a few values (ties) or continuous, some -0.
    static func randomCase(_ trial: Int, _ g: inout Generator) -> (boxes: [Box], scores: [Float], groups: [Int]) {
        let n = Int.random(in: 0..<260, using: &g), groupCount = Int.random(in: 1...6, using: &g)
        let span: Float = trial % 3 == 0 ? 4 : 100
        var boxes: [Box] = [], scores: [Float] = [], groups: [Int] = []
        for _ in 0..<n {
            let x1 = Float.random(in: 0..<span, using: &g).rounded(), y1 = Float.random(in: 0..<span, using: &g).rounded()
            var x2 = x1 + Float.random(in: -2..<(span / 2), using: &g).rounded()
            let y2 = y1 + Float.random(in: -2..<(span / 2), using: &g).rounded()
            if Int.random(in: 0..<10, using: &g) == 0 { x2 = x1 }  // zero width
            boxes.append(Int.random(in: 0..<20, using: &g) == 0 ? Box(5, 5, 5, 5) : Box(x1, y1, x2, y2))
            let score = trial % 2 == 0 ? Float(Int.random(in: 0..<5, using: &g)) / 4 : Float.random(in: -1..<1, using: &g)
            scores.append(Int.random(in: 0..<15, using: &g) == 0 ? -0.0 : score)
            groups.append(Int.random(in: 0..<groupCount, using: &g))
        }
        return (boxes, scores, groups)
    }

    @Test("NMS and batched NMS keep the reference's boxes in its order")
    func nms() {
        var g = Generator(state: 1)
        var kept = 0, suppressed = 0
        for trial in 0..<1500 {
            let (boxes, scores, groups) = Self.randomCase(trial, &g)
            let threshold: Float = [0.5, 0.7, 0, -0.1, 1][trial % 5]
            let keep = NMS.nms(boxes, scores: scores, iou: threshold)
            #expect(keep == Self.referenceNMS(boxes, scores: scores, iou: threshold), "trial \(trial)")
            #expect(NMS.batched(boxes, scores: scores, groups: groups, iou: threshold)
                    == Self.referenceBatched(boxes, scores: scores, groups: groups, iou: threshold), "trial \(trial)")
            kept += keep.count
            suppressed += boxes.count - keep.count
        }
        // The cases exercise both outcomes.
        #expect(kept > 10_000 && suppressed > 10_000, "kept \(kept), suppressed \(suppressed)")
    }

    @Test("batched NMS over more than 1000 boxes (one NMS per group) keeps the reference's boxes in its order")
    func batchedPerGroup() {
        var g = Generator(state: 2)
        for trial in 0..<4 {
            // Proposal-like boxes on an 800 px image, 5 levels or 90 classes.
            let n = 1001 + 700 * trial, groupCount = trial % 2 == 0 ? 5 : 90
            var boxes: [Box] = [], scores: [Float] = [], groups: [Int] = []
            for _ in 0..<n {
                let cx = Float.random(in: 0..<800, using: &g), cy = Float.random(in: 0..<800, using: &g)
                let w = Float.random(in: 4..<200, using: &g), h = w * Float.random(in: 0.5..<2, using: &g)
                boxes.append(Box(max(0, cx - w / 2), max(0, cy - h / 2), min(800, cx + w / 2), min(800, cy + h / 2)))
                scores.append(Float(Int.random(in: 0..<200, using: &g)) / 200)
                groups.append(Int.random(in: 0..<groupCount, using: &g))
            }
            for threshold: Float in [0.5, 0.7] {
                let keep = NMS.batched(boxes, scores: scores, groups: groups, iou: threshold)
                #expect(keep == Self.referenceBatched(boxes, scores: scores, groups: groups, iou: threshold), "trial \(trial)")
                #expect(keep.count > 100 && keep.count < n)
            }
        }
    }

    @Test("top-k gives the full sort's first k indices in its order, ties by index")
    func topK() {
        var g = Generator(state: 3)
        // Small cases, every k around the edges.
        for trial in 0..<1500 {
            let scores = Self.randomCase(trial, &g).scores
            let k = Int.random(in: 0...(scores.count + 3), using: &g)
            #expect(TopK.indices(scores, count: k) == Self.referenceTopK(scores, k), "trial \(trial), k \(k)")
        }
        // A level-0 sized map of an 800 px image (200 x 200 x 3 anchors), with heavy ties or
        // continuous, as given, ascending and descending (worst cases for a naive quickselect).
        for trial in 0..<4 {
            let n = trial < 2 ? 120_000 : 5000
            let values = (0..<n).map { _ in
                trial % 2 == 0 ? Float(Int.random(in: -40..<40, using: &g)) / 8 : Float.random(in: -6..<6, using: &g)
            }
            let ascending = values.sorted()
            for scores in [values, ascending, Array(ascending.reversed())] {
                let reference = Self.referenceTopK(scores, n)
                for k in [1, 31, 32, 33, 1000, n - 1, n, n + 1] {
                    #expect(TopK.indices(scores, count: k) == Array(reference.prefix(k)), "n \(n), k \(k)")
                }
            }
        }
        // Infinities order as numbers; -0 and +0 are equal scores, ordered by index.
        let special: [Float] = [0, -0.0, .infinity, -.infinity, 1, -0.0, 0, .greatestFiniteMagnitude, -1, .leastNonzeroMagnitude]
        #expect(TopK.indices(special, count: special.count) == Self.referenceTopK(special, special.count))
        #expect(TopK.indices(special, count: special.count) == [2, 7, 4, 9, 0, 1, 5, 6, 8, 3])
    }

    @Test("with a NaN score, top-k, NMS and batched NMS fall back on the closure sort, as before")
    func nanScores() {
        var g = Generator(state: 4)
        var scores = (0..<500).map { _ in Float.random(in: 0..<1, using: &g) }
        scores[17] = .nan
        scores[300] = .nan
        for k in [0, 10, 499, 500] {
            #expect(TopK.indices(scores, count: k) == Self.referenceTopK(scores, k))
        }
        let boxes = (0..<500).map { (i: Int) -> Box in
            let x = Float(i % 37), y = Float(i % 11)
            return Box(x, y, x + 20, y + 20)
        }
        #expect(NMS.nms(boxes, scores: scores, iou: 0.5) == Self.referenceNMS(boxes, scores: scores, iou: 0.5))
        let groups = (0..<500).map { $0 % 3 }
        #expect(NMS.batched(boxes, scores: scores, groups: groups, iou: 0.5)
                == Self.referenceBatched(boxes, scores: scores, groups: groups, iou: 0.5))
    }
}
