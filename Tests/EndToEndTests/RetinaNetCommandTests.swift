import Foundation
import Testing
import TestSupport

/// `mgpr preset=deepforest` with a DeepForest model folder over a raster of several
/// tiles, against DeepForest's predict_tile algorithm (per-tile detections, shifted by
/// the window, one class-agnostic NMS at 0.15) reimplemented with torchvision in
/// float64 by reference/make_retinanet.py: at least 99% of its boxes found (same label,
/// IoU >= 0.99, score within 1e-3), at most 1% extra; the table DeepForest writes.
@Suite("mgpr preset=deepforest", .serialized)
struct RetinaNetCommandTests {
    let mgpr = TestSupport.product("mgpr")
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/retinanet") }

    func reference(_ key: String) throws -> [Double] { try Reference.array(Self.fixtures, case: "deepforest_mosaic", key) }

    func run(_ output: String, _ extra: [String] = [], in directory: URL) throws -> TestSupport.ProcessResult {
        try TestSupport.run(
            mgpr, ["preset=deepforest", "image_path=\(Self.fixtures.path)/mosaic.tif", "weights=\(Self.fixtures.path)/deepforest_tree",
                   "precision=32", "output=\(output)", "run_dir=\(directory.path)/run-\(UUID().uuidString.prefix(6))"] + extra,
            in: directory)
    }

    @Test("the CSV has DeepForest's columns and its boxes: DeepForest's algorithm over four overlapping tiles")
    func deepForestTable() throws {
        let directory = try TestSupport.temporaryDirectory()
        let csv = directory.appendingPathComponent("trees.csv").path
        let result = try run(csv, in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("2x2 tiles"), "\(result.stderr)")
        #expect(result.stderr.contains("model=retinanet (v1, classes Tree"), "\(result.stderr)")
        let rows = CSVRows.parse(try String(contentsOfFile: csv, encoding: .utf8))
        #expect(rows.first == ["xmin", "ymin", "xmax", "ymax", "label", "score", "image_path", "geometry", "tile"])
        let found = rows.dropFirst().map { r in
            (box: r[0...3].map { Float($0)! }, label: r[4], score: Float(r[5])!, image: r[6], geometry: r[7])
        }
        #expect(found.allSatisfy { $0.label == "Tree" && $0.image == "mosaic.tif" && $0.geometry.hasPrefix("POLYGON ((") })

        let boxes = try reference("boxes"), scores = try reference("scores")
        let expected = scores.indices.map { i in (box: (0..<4).map { Float(boxes[4 * i + $0]) }, score: Float(scores[i])) }
        let perWindow = try reference("window_counts")
        #expect(perWindow.count == 4 && perWindow.allSatisfy { $0 >= 10 }, "detections per window \(perWindow)")
        #expect(expected.count >= 20 && Double(expected.count) < perWindow.reduce(0, +),
                "the mosaic NMS should keep many boxes and drop some: \(expected.count) of \(perWindow.reduce(0, +))")
        func iou(_ a: [Float], _ b: [Float]) -> Float {
            let w = max(0, min(a[2], b[2]) - max(a[0], b[0])), h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
            let inter = w * h
            return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
        }
        var unmatched = Array(found.indices)
        var matched = 0
        for e in expected {
            if let k = unmatched.firstIndex(where: { iou(found[$0].box, e.box) >= 0.99 && abs(found[$0].score - e.score) <= 1e-3 }) {
                unmatched.remove(at: k)
                matched += 1
            }
        }
        #expect(Double(matched) >= 0.99 * Double(expected.count), "found \(matched) of \(expected.count); mgpr wrote \(found.count)")
        #expect(Double(unmatched.count) <= 0.01 * Double(expected.count), "\(unmatched.count) extra boxes")

        // The geometry is the box in the raster's CRS: the geotransform applied to the pixels.
        let info = try TestSupport.run("/usr/bin/gdalinfo", ["-json", "\(Self.fixtures.path)/mosaic.tif"])
        let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as! [String: Any]
        let gt = json["geoTransform"] as! [Double]
        let first = found[0]
        let numbers = first.geometry.split(whereSeparator: { " ,()".contains($0) }).compactMap { Double($0) }
        #expect(numbers.count == 10)
        let x1 = gt[0] + gt[1] * Double(first.box[0]), y1 = gt[3] + gt[5] * Double(first.box[1])
        #expect(abs(numbers[0] - x1) < 1e-3 && abs(numbers[1] - y1) < 1e-3, "\(numbers) vs (\(x1), \(y1))")
    }

    @Test("GeoPackage and GeoJSON carry the class names, with their index")
    func namedLabels() throws {
        let directory = try TestSupport.temporaryDirectory()
        let gpkg = directory.appendingPathComponent("trees.gpkg").path
        let result = try run(gpkg, in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        let info = try TestSupport.run("/usr/bin/ogrinfo", ["-ro", "-al", "-fid", "1", gpkg])
        #expect(info.stdout.contains("label (String) = Tree") && info.stdout.contains("label_id (Integer) = 0"), "\(info.stdout)")
        let geojson = directory.appendingPathComponent("trees.geojson").path
        try #require(try run(geojson, in: directory).status == 0)
        #expect(try String(contentsOfFile: geojson, encoding: .utf8).contains("\"label\": \"Tree\""))
    }
}
