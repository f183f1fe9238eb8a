import Engine
import Foundation
import Models
import Testing
import TestSupport
import Tiling

@Suite("Merging detections across tile seams")
struct SeamMergeTests {
    // Two 100 px tiles overlapping by 20 px on a 180 x 100 raster.
    let left = Window(colOff: 0, rowOff: 0, width: 100, height: 100)
    let right = Window(colOff: 80, rowOff: 0, width: 100, height: 100)

    func placed(_ x1: Float, _ x2: Float, label: Int = 1, score: Float = 0.9, tile: Int, _ window: Window) -> PlacedDetection {
        PlacedDetection(detection: Detection(box: Box(x1, 10, x2, 40), label: label, score: score), tile: tile, window: window)
    }

    @Test("an object both tiles see whole appears once, with the higher score")
    func seenTwice() {
        let merged = SeamMerge.merge(
            [placed(85, 98, score: 0.8, tile: 0, left), placed(85.2, 98.1, score: 0.9, tile: 1, right)],
            rasterWidth: 180, rasterHeight: 100, iou: 0.5, cell: 100)
        #expect(merged.count == 1 && merged[0].tile == 1)
    }

    @Test("an object cut by one tile's edge is kept as the neighbour sees it whole")
    func cutByTheSeam() {
        let cut = placed(90, 100, score: 0.95, tile: 0, left)  // runs off the left tile's right edge
        let whole = placed(90, 115, score: 0.7, tile: 1, right)
        #expect(cut.isCut(rasterWidth: 180, rasterHeight: 100) && !whole.isCut(rasterWidth: 180, rasterHeight: 100))
        let merged = SeamMerge.merge([cut, whole], rasterWidth: 180, rasterHeight: 100, iou: 0.5, cell: 100)
        #expect(merged == [whole])
    }

    @Test("different classes, and objects far apart, are never merged; the raster's own edge cuts nothing")
    func distinct() {
        let a = placed(85, 98, label: 1, tile: 0, left), b = placed(85, 98, label: 2, tile: 1, right)
        let c = placed(150, 179.5, tile: 1, right), d = placed(0, 20, tile: 0, left)
        #expect(!c.isCut(rasterWidth: 180, rasterHeight: 100) && !d.isCut(rasterWidth: 180, rasterHeight: 100))
        let merged = SeamMerge.merge([a, b, c, d], rasterWidth: 180, rasterHeight: 100, iou: 0.5, cell: 100)
        #expect(Set(merged) == Set([a, b, c, d]))
    }

    @Test("mosaic is torchvision's nms over every box of every tile, all classes together, however many boxes")
    func mosaicIsPlainNMS() {
        // 3000 boxes of two classes scattered over a 2000 px raster in 100 px tiles: the
        // grid search must keep exactly what plain O(n^2) NMS keeps.
        var state: UInt64 = 12345
        func next() -> Float { state = state &* 6364136223846793005 &+ 1442695040888963407; return Float(state >> 40) / Float(1 << 24) }
        let window = Window(colOff: 0, rowOff: 0, width: 100, height: 100)
        let found = (0..<3000).map { i -> PlacedDetection in
            let x = next() * 1950, y = next() * 1950, w = 5 + next() * 60, h = 5 + next() * 60
            return PlacedDetection(
                detection: Detection(box: Box(x, y, x + w, y + h), label: i % 2, score: next()), tile: i / 30, window: window)
        }
        let merged = SeamMerge.mosaic(found, iou: 0.15, cell: 100)
        let kept = NMS.nms(found.map(\.detection.box), scores: found.map(\.detection.score), iou: NMS.threshold(0.15))
            .map { found[$0] }
        #expect(merged.count > 500 && merged.count < 3000, "\(merged.count) kept")
        #expect(merged == kept)
    }

    static let torchvision = (try? TestSupport.run(TestSupport.systemPython, ["-c", "import torchvision"]).status) == 0

    @Test("mosaic drops a box whose IoU with a kept one is exactly the threshold in float32, as torchvision's nms on DeepForest's float32 boxes does (run beside)",
          .enabled(if: torchvision, "needs torchvision in /usr/bin/python3 (python3-torchvision; scripts/test.sh installs it)"))
    func mosaicTiesAsTorchvision() throws {
        // 400 whole-pixel boxes, 10 px high, in 8 rows of a 1000 px strip, as DeepForest's
        // truncated mosaic has them: widths 10 and 13 (or 20 and 26, 23 and 23) overlapping
        // by 3 (or 6) px overlap by exactly 3/20 of their union.
        var state: UInt64 = 2024
        func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) % n }
        let widths = [10, 13, 20, 23, 26]
        let boxes = (0..<400).map { _ -> [Int] in
            let x = next(1000), y = 10 * next(8), w = widths[next(5)]
            return [x, y, x + w, y + 10]
        }
        var ranks = Array(0..<400)
        for i in ranks.indices.reversed() { ranks.swapAt(i, next(i + 1)) }
        let scores = ranks.map { Float($0 + 1) / 401 }  // distinct: no order left to sorting
        var ties = 0
        for i in boxes.indices {
            for j in boxes.indices where j > i {
                let (a, b) = (boxes[i], boxes[j])
                let inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
                let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
                if inter * 20 == union * 3 { ties += 1 }
            }
        }
        try #require(ties >= 5, "only \(ties) pairs overlap by exactly 0.15: nothing to test")

        let script = """
            import json, sys, torch, torchvision
            boxes, scores = json.load(open(sys.argv[1]))
            print(json.dumps(torchvision.ops.nms(torch.tensor(boxes, dtype=torch.float32),
                                                 torch.tensor(scores, dtype=torch.float32), 0.15).tolist()))
            """
        let input = try TestSupport.temporaryDirectory().appendingPathComponent("boxes.json")
        try JSONSerialization.data(withJSONObject: [boxes, scores.map(Double.init)]).write(to: input)
        let result = try TestSupport.run(TestSupport.systemPython, ["-c", script, input.path])
        try #require(result.status == 0, "\(result.stderr)")
        let theirs = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Int])

        let window = Window(colOff: 0, rowOff: 0, width: 400, height: 400)
        let found = boxes.indices.map { i in
            let b = boxes[i].map(Float.init)
            return PlacedDetection(detection: Detection(box: Box(b[0], b[1], b[2], b[3]), label: 0, score: scores[i]), tile: i, window: window)
        }
        let ours = SeamMerge.mosaic(found, iou: 0.15, cell: 40).map(\.tile)
        #expect(ours == theirs, "mgpr kept \(ours.count), torchvision \(theirs.count)")
        // The nearest Float to 0.15 as the threshold keeps the ties torchvision drops.
        let nearest = NMS.nms(found.map(\.detection.box), scores: scores, iou: Float(0.15))
        #expect(nearest.count > theirs.count, "Float(0.15) kept \(nearest.count), torchvision \(theirs.count)")
    }
}
