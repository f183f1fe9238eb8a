import Foundation
import Engine
import Models
import Results
import Testing
import Tiling

/// DeepForest's arithmetic on a box: the window's offset added to the float32 box in
/// float64 (pandas promotes), truncated toward zero (`astype(int)`), and its geometry as
/// shapely's `box()` writes it.
@Suite("DeepForest's table")
struct DeepForestTableTests {
    @Test("a part keeps the exact float64 sum of the float32 box and the offset, so truncation truncates the true sum")
    func exactSum() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("part-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let part = try DetectionPart(path: path)
        let tile = TileInfo(index: 4, window: Window(colOff: 1520, rowOff: 760, width: 400, height: 400),
                            transform: GeoTransform(originX: 0, originY: 0, pixelSize: 1))
        // 399.99997 as float32 is 399.9999694824219: plus 1520 in float32 it rounds up to 1920.
        let box = Box(399.99997, 10.5, 399.99997, 20.25)
        #expect(box.x1 + 1520 == 1920, "float32 rounds the sum up")
        _ = try part.write([tile], [.detections([Detection(box: box, label: 0, score: 0.5)])])
        try part.close()
        let row = try #require(String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").last)
        #expect(row == "4,1520,760,400,400,1919.9999694824219,770.5,1919.9999694824219,780.25,0,0.5")
        let whole = try #require(DetectionPart.detection(in: row, tile: 4, wholePixels: true)).detection.box
        #expect([whole.x1, whole.y1, whole.x2, whole.y2] == [1919, 770, 1919, 780])
        let exact = try #require(DetectionPart.detection(in: row, tile: 4)).detection.box
        #expect(exact.y2 == 780.25)
    }

    @Test("the geometry is shapely's box, counter-clockwise from (xmax, ymin), numbers as shapely trims them")
    func geometry() {
        #expect(FinalResults.pixelWKT(Box(10, 20, 50, 60)) == "POLYGON ((50 20, 50 60, 10 60, 10 20, 50 20))")
        #expect(FinalResults.pixelWKT(Box(0, 0.5, 12.25, 1)) == "POLYGON ((12.25 0.5, 12.25 1, 0 1, 0 0.5, 12.25 0.5))")
    }
}
