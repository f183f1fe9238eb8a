import Foundation
import Engine
import Models
import Testing
import TestSupport

/// The detector's own steps against torchvision.ops and torchvision's detection
/// utilities on the same values (reference/make_detection_ops.py). NMS and anchors
/// exactly; RoIAlign within 1e-5 and decoding within 1e-5 of the box's size, against
/// float64 evaluations of the same float32 inputs.
@Suite("Detection steps match torchvision")
struct DetectionOpsTests {
    static func load(_ name: String) throws -> [String: Any] {
        let url = TestSupport.packageRoot.appendingPathComponent(".fixtures/detection_ops/ops.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw TestSupport.FixtureMissing(path: url.path) }
        let cases = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: [String: Any]]
        return try #require(cases[name], "no case \(name) in \(url.path)")
    }

    static func numbers(_ c: [String: Any], _ key: String) -> [Double] { (c[key] as! [NSNumber]).map(\.doubleValue) }
    static func integers(_ c: [String: Any], _ key: String) -> [Int] { (c[key] as! [NSNumber]).map(\.intValue) }
    static func boxes(_ values: [Double]) -> [Box] {
        stride(from: 0, to: values.count, by: 4).map {
            Box(Float(values[$0]), Float(values[$0 + 1]), Float(values[$0 + 2]), Float(values[$0 + 3]))
        }
    }

    @Test("NMS keeps torchvision's boxes in its order when scores tie")
    func nmsWithTies() throws {
        let c = try Self.load("nms")
        let scores = Self.numbers(c, "scores").map(Float.init)
        #expect(Set(scores).count < scores.count / 4, "the case should be full of ties")
        let keep = NMS.nms(Self.boxes(Self.numbers(c, "boxes")), scores: scores, iou: Float(Self.numbers(c, ["iou"]).first!))
        let expected = Self.integers(c, "keep")
        #expect(expected.count > 10 && expected.count < scores.count)
        #expect(keep == expected)
    }

    @Test("batched NMS on both of torchvision's paths: coordinate offsets, and one NMS per group",
          arguments: ["batched_offsets", "batched_per_group"])
    func batched(name: String) throws {
        let c = try Self.load(name)
        let scores = Self.numbers(c, "scores").map(Float.init)
        let keep = NMS.batched(
            Self.boxes(Self.numbers(c, "boxes")), scores: scores, groups: Self.integers(c, "groups"),
            iou: Float(Self.numbers(c, ["iou"]).first!))
        let expected = Self.integers(c, "keep")
        #expect(expected.count > 100 && expected.count < scores.count)
        #expect(Set(keep) == Set(expected))
        // torchvision orders the kept boxes by score; ties (every 7th score is 0.5) may
        // come in either order, so the scores' sequence is what must agree.
        #expect(keep.map { scores[$0] } == expected.map { scores[$0] })
    }

    @Test("RoIAlign follows torchvision's rules inside, across and beyond the map's edges, and for tiny boxes")
    func roiAlign() throws {
        let c = try Self.load("roi_align")
        let shape = Self.integers(c, "shape"), features = Self.numbers(c, "features").map(Float.init)
        let boxes = Self.boxes(Self.numbers(c, "boxes")), expected = Self.numbers(c, "pooled")
        let perBox = shape[0] * 49
        var pooled = [Float](repeating: .nan, count: boxes.count * perBox)
        features.withUnsafeBufferPointer { map in
            pooled.withUnsafeMutableBufferPointer { out in
                for (i, box) in boxes.enumerated() {
                    RoIAlign.pool(
                        map.baseAddress!, channels: shape[0], height: shape[1], width: shape[2], box: box,
                        spatialScale: Float(Self.numbers(c, ["spatial_scale"]).first!), size: 7, samplingRatio: 2,
                        into: out.baseAddress! + i * perBox)
                }
            }
        }
        for (i, box) in boxes.enumerated() {
            let range = (i * perBox)..<((i + 1) * perBox)
            let worst = zip(pooled[range], expected[range]).map { abs(Double($0) - $1) }.max()!
            #expect(worst <= 1e-5, "box \(i) \(box): worst difference \(worst)")
        }
        // The box wholly outside the map pools to zeros; the others see the map.
        #expect(expected[(3 * perBox)..<(4 * perBox)].allSatisfy { $0 == 0 })
        #expect(expected[0..<perBox].contains { $0 != 0 })
    }

    @Test("RoIAlign from an NHWC map into NHWC bins gives the NCHW map's floats exactly, for the same boxes")
    func roiAlignChannelsLast() throws {
        let c = try Self.load("roi_align")
        let shape = Self.integers(c, "shape"), features = Self.numbers(c, "features").map(Float.init)
        let (channels, height, width) = (shape[0], shape[1], shape[2])
        let channelsLast = (0..<(height * width)).flatMap { p in (0..<channels).map { features[$0 * height * width + p] } }
        let scale = Float(Self.numbers(c, ["spatial_scale"]).first!), perBox = channels * 49
        for box in Self.boxes(Self.numbers(c, "boxes")) {
            var planar = [Float](repeating: .nan, count: perBox), interleaved = planar
            RoIAlign.pool(features, channels: channels, height: height, width: width, box: box, spatialScale: scale,
                          size: 7, samplingRatio: 2, into: &planar)
            RoIAlign.poolChannelsLast(channelsLast, channels: channels, height: height, width: width, box: box, spatialScale: scale,
                                      size: 7, samplingRatio: 2, into: &interleaved)
            let transposed = (0..<perBox).map { i in interleaved[(i % 49) * channels + i / 49] }  // [bin][c] to [c][bin]
            #expect(planar.map(\.bitPattern) == transposed.map(\.bitPattern), "box \(box)")
        }
    }

    @Test("BoxCoder decodes as torchvision, clamping dw and dh at log(1000 / 16)")
    func boxCoder() throws {
        let c = try Self.load("box_coder")
        let w = Self.numbers(c, "weights").map(Float.init)
        let coder = BoxCoder(weights: (w[0], w[1], w[2], w[3]))
        #expect(abs(Double(BoxCoder.clip) - Self.numbers(c, ["clip"]).first!) < 1e-6)
        let boxes = Self.boxes(Self.numbers(c, "boxes")), deltas = Self.numbers(c, "deltas").map(Float.init)
        let expected = Self.boxes(Self.numbers(c, "decoded"))
        for (i, box) in boxes.enumerated() {
            let d = coder.decode((deltas[4 * i], deltas[4 * i + 1], deltas[4 * i + 2], deltas[4 * i + 3]), on: box)
            let e = expected[i]
            let size = Double(max(e.x2 - e.x1, e.y2 - e.y1))
            let worst = [d.x1 - e.x1, d.y1 - e.y1, d.x2 - e.x2, d.y2 - e.y2].map { abs(Double($0)) }.max()!
            #expect(worst <= 1e-5 * size, "box \(i): \(d) vs \(e)")
        }
        // Clamped deltas (every fifth) give boxes 62.5 times the reference box's size.
        let clamped = expected[0], reference = boxes[0]
        #expect(abs((clamped.x2 - clamped.x1) / (reference.x2 - reference.x1) - 62.5) < 1e-3)
    }

    @Test("anchors of every FPN level equal torchvision's AnchorGenerator's")
    func anchors() throws {
        let c = try Self.load("anchors")
        let image = Self.integers(c, "image")
        let features = (c["features"] as! [[NSNumber]]).map { $0.map(\.intValue) }
        let levels = (c["levels"] as! [[NSNumber]]).map { $0.map(\.floatValue) }
        for (level, size) in features.enumerated() {
            let mine = Anchors.level(level, featureHeight: size[0], featureWidth: size[1], imageHeight: image[0], imageWidth: image[1])
            let expected = stride(from: 0, to: levels[level].count, by: 4).map {
                Box(levels[level][$0], levels[level][$0 + 1], levels[level][$0 + 2], levels[level][$0 + 3])
            }
            #expect(mine == expected, "level \(level)")
        }
    }
}

extension DetectionOpsTests {
    /// A scalar stored as a JSON number.
    static func numbers(_ c: [String: Any], _ keys: [String]) -> [Double] { keys.map { (c[$0] as! NSNumber).doubleValue } }
}
