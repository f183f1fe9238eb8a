import Engine
import Models
import Testing
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
        let kept = NMS.nms(found.map(\.detection.box), scores: found.map(\.detection.score), iou: 0.15).map { found[$0] }
        #expect(merged.count > 500 && merged.count < 3000, "\(merged.count) kept")
        #expect(merged == kept)
    }
}
