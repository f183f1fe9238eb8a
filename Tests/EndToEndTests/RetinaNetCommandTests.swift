import Foundation
import Testing
import TestSupport

/// `mgpr preset=deepforest` with a DeepForest model folder over a raster of several
/// tiles, against DeepForest 2.1.0's predict_tile algorithm (per-window detections,
/// shifted by the window in float64 and truncated to whole pixels, one class-agnostic
/// NMS at 0.15, its IoU in float32 as DeepForest's boxes are) reimplemented with
/// torchvision in float64 by reference/make_retinanet.py (see ``expectNoExactTies(_:)``):
/// at least 99% of its boxes found (same label, same box, score within 1e-3), at most 1%
/// extra; the table DeepForest's predict_tile returns, as pandas writes it.
@Suite("mgpr preset=deepforest", .serialized)
struct RetinaNetCommandTests {
    let mgpr = TestSupport.product("mgpr")
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/retinanet") }

    func reference(_ key: String) throws -> [Double] { try Reference.array(Self.fixtures, case: "deepforest_mosaic", key) }

    func run(_ output: String, _ extra: [String] = [], in directory: URL) throws -> TestSupport.ProcessResult {
        try TestSupport.run(
            mgpr, ["preset=deepforest", "image_path=\(Self.fixtures.path)/mosaic.tif", "weights=\(Self.fixtures.path)/deepforest_tree",
                   "output=\(output)", "run_dir=\(directory.path)/run-\(UUID().uuidString.prefix(6))"] + extra,
            in: directory)
    }

    @Test("the CSV is DeepForest's table: its columns, its boxes in whole pixels, its geometry in pixels, over four windows")
    func deepForestTable() throws {
        let directory = try TestSupport.temporaryDirectory()
        let csv = directory.appendingPathComponent("trees.csv").path
        let result = try run(csv, in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("2x2 tiles"), "\(result.stderr)")
        #expect(result.stderr.contains("model=retinanet (v1, classes Tree"), "\(result.stderr)")
        #expect(result.stderr.contains(", f32 on CPU"), "the preset runs float32, as DeepForest: \(result.stderr)")
        let rows = CSVRows.parse(try String(contentsOfFile: csv, encoding: .utf8))
        #expect(rows.first == ["xmin", "ymin", "xmax", "ymax", "label", "score", "image_path", "geometry", "tile"])
        let found = rows.dropFirst().map { r in
            (box: r[0...3].map { Double($0)! }, label: r[4], score: Double(r[5])!, scoreText: r[5], image: r[6], geometry: r[7])
        }
        #expect(found.allSatisfy { $0.label == "Tree" && $0.image == "mosaic.tif" })
        // Whole pixels, as DeepForest's astype(int) leaves them, written as pandas writes floats ("380.0").
        #expect(found.allSatisfy { $0.box.allSatisfy { $0 == $0.rounded(.towardZero) } }, "coordinates are whole pixels")
        #expect(rows.dropFirst().allSatisfy { $0[0...3].allSatisfy { $0.hasSuffix(".0") } })
        // The score is DeepForest's float32 widened to float64, as pandas prints it.
        #expect(found.allSatisfy { Double(Float($0.score)) == $0.score && "\($0.score)" == $0.scoreText })
        // The geometry is shapely's box(xmin, ymin, xmax, ymax) in pixels, as DeepForest returns it.
        for f in found {
            let (x1, y1, x2, y2) = (Int(f.box[0]), Int(f.box[1]), Int(f.box[2]), Int(f.box[3]))
            #expect(f.geometry == "POLYGON ((\(x2) \(y1), \(x2) \(y2), \(x1) \(y2), \(x1) \(y1), \(x2) \(y1)))", "\(f.geometry)")
        }

        let boxes = try reference("truncated_boxes"), scores = try reference("truncated_scores")
        let expected = scores.indices.map { i in (box: (0..<4).map { boxes[4 * i + $0] }, score: scores[i]) }
        let perWindow = try reference("window_counts")
        #expect(perWindow.count == 4 && perWindow.allSatisfy { $0 >= 10 }, "detections per window \(perWindow)")
        #expect(expected.count >= 20 && Double(expected.count) < perWindow.reduce(0, +),
                "the mosaic NMS should keep many boxes and drop some: \(expected.count) of \(perWindow.reduce(0, +))")
        Self.expectNoExactTies(boxes)
        Self.expectMatch(found.map { ($0.box, $0.score) }, expected)
    }

    /// At least 99% of the reference's boxes found (the same whole-pixel box, score within
    /// 1e-3), at most 1% extra.
    static func expectMatch(_ found: [(box: [Double], score: Double)], _ expected: [(box: [Double], score: Double)]) {
        var unmatched = Array(found.indices)
        var matched = 0
        for e in expected {
            if let k = unmatched.firstIndex(where: { found[$0].box == e.box && abs(found[$0].score - e.score) <= 1e-3 }) {
                unmatched.remove(at: k)
                matched += 1
            }
        }
        #expect(Double(matched) >= 0.99 * Double(expected.count), "found \(matched) of \(expected.count); mgpr wrote \(found.count)")
        #expect(Double(unmatched.count) <= 0.01 * Double(expected.count), "\(unmatched.count) extra boxes")
    }

    /// DeepForest's mosaic NMS as it runs: torchvision's `nms` on float32 boxes (whole
    /// pixels, so exact in float32), by descending score, dropping a box whose float32 IoU
    /// with one kept is above `threshold` taken as a double, so that an IoU of exactly 0.15
    /// (0.15000000596 in float32) is dropped; in float64 it would be kept.
    static func nms(_ boxes: [[Double]], _ scores: [Double], _ threshold: Double) -> [Int] {
        let boxes = boxes.map { $0.map(Float.init) }
        func area(_ b: [Float]) -> Float { (b[2] - b[0]) * (b[3] - b[1]) }
        var kept: [Int] = []
        for i in scores.indices.sorted(by: { scores[$0] > scores[$1] }) {
            let overlaps = kept.contains { k in
                let (a, b) = (boxes[i], boxes[k])
                let w = max(0, min(a[2], b[2]) - max(a[0], b[0])), h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
                return Double(w * h / (area(a) + area(b) - w * h)) > threshold
            }
            if !overlaps { kept.append(i) }
        }
        return kept
    }

    /// A reference made with torchvision's NMS in float64 is DeepForest's float32 mosaic
    /// only where no two boxes it keeps overlap by exactly 3/20 of their union: float64
    /// keeps such a pair, DeepForest drops the lower one; every other IoU is judged alike
    /// (whole-pixel boxes in a window's reach are never within float32's rounding of 0.15
    /// otherwise). Checked exactly, on the whole pixels.
    static func expectNoExactTies(_ boxes: [Double]) {
        let whole = stride(from: 0, to: boxes.count, by: 4).map { i in (0..<4).map { Int(boxes[i + $0]) } }
        var ties = 0
        for i in whole.indices {
            for j in whole.indices where j > i {
                let (a, b) = (whole[i], whole[j])
                let inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
                let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
                if inter > 0 && inter * 20 == union * 3 { ties += 1 }
            }
        }
        #expect(ties == 0, "\(ties) pairs of the reference's boxes overlap by exactly 0.15: DeepForest drops one of each")
    }

    @Test("one window: the 400 px NEON crop gives DeepForest's predict_tile recomputed from float64 detections (truncated, the 0.15 NMS in float32 as DeepForest's)")
    func oneWindow() throws {
        let directory = try TestSupport.temporaryDirectory()
        let csv = directory.appendingPathComponent("trees.csv").path
        let crop = TestSupport.packageRoot.appendingPathComponent(".fixtures/OSBS_029.tif").path
        let result = try TestSupport.run(
            mgpr, ["preset=deepforest", "image_path=\(crop)", "weights=\(Self.fixtures.path)/deepforest_tree", "output=\(csv)",
                   "run_dir=\(directory.path)/run"], in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("1x1 tiles"), "\(result.stderr)")
        let rows = CSVRows.parse(try String(contentsOfFile: csv, encoding: .utf8)).dropFirst()
        let found = rows.map { r in (box: r[0...3].map { Double($0)! }, score: Double(r[5])!) }
        let boxes = try Reference.array(Self.fixtures, case: "v1_tree.neon_tile", "boxes")
        let scores = try Reference.array(Self.fixtures, case: "v1_tree.neon_tile", "scores")
        let whole = scores.indices.map { i in (0..<4).map { boxes[4 * i + $0].rounded(.towardZero) } }
        let expected = Self.nms(whole, scores, 0.15).map { (box: whole[$0], score: scores[$0]) }
        #expect(expected.count >= 20, "\(expected.count) trees in the window")
        Self.expectMatch(found, expected)
    }

    /// A 2300 px VRT of the NEON crop repeated every 400 px: DeepForest's windows (400 px,
    /// 5% overlap, a stride of 380) fall 6 x 6 over it, each on a different cut of the crop.
    static func repeatedCrop(in directory: URL) throws -> String {
        let crop = TestSupport.packageRoot.appendingPathComponent(".fixtures/OSBS_029.tif").path
        let sources = (0..<6).flatMap { y in (0..<6).map { x in (x * 400, y * 400) } }
        let bands = (1...3).map { band in
            "<VRTRasterBand dataType=\"Byte\" band=\"\(band)\">" + sources.map { x, y in
                "<SimpleSource><SourceFilename relativeToVRT=\"0\">\(crop)</SourceFilename><SourceBand>\(band)</SourceBand>"
                    + "<SrcRect xOff=\"0\" yOff=\"0\" xSize=\"400\" ySize=\"400\"/><DstRect xOff=\"\(x)\" yOff=\"\(y)\" xSize=\"400\" ySize=\"400\"/></SimpleSource>"
            }.joined() + "</VRTRasterBand>"
        }.joined()
        let path = directory.appendingPathComponent("repeated.vrt").path
        try "<VRTDataset rasterXSize=\"2300\" rasterYSize=\"2300\">\(bands)</VRTDataset>".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("36 windows: the table is DeepForest's merge of the windows' detections, recomputed from them as DeepForest merges")
    func thirtySixWindows() throws {
        let directory = try TestSupport.temporaryDirectory()
        let csv = directory.appendingPathComponent("trees.csv").path, run = directory.appendingPathComponent("run")
        let result = try TestSupport.run(
            mgpr, ["preset=deepforest", "image_path=\(try Self.repeatedCrop(in: directory))", "weights=\(Self.fixtures.path)/deepforest_tree",
                   "output=\(csv)", "run_dir=\(run.path)"], in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("6x6 tiles"), "\(result.stderr)")
        // Each window's detections as the run kept them: the float32 box plus the window's
        // offset, exact in float64 (the part mgpr merges from).
        let part = CSVRows.parse(try String(contentsOf: run.appendingPathComponent("rank-0/results.csv"), encoding: .utf8)).dropFirst()
        let offsets = [0, 380, 760, 1140, 1520, 1900]
        #expect(Set(part.map { [Int($0[1])!, Int($0[2])!] }) == Set(offsets.flatMap { y in offsets.map { [$0, y] } }),
                "DeepForest's windows: a stride of 380, the last at 1900")
        let detections = part.filter { !$0[5].isEmpty }
        let perWindow = Dictionary(grouping: detections, by: { $0[0] }).mapValues(\.count)
        #expect(perWindow.count == 36 && perWindow.values.allSatisfy { $0 >= 10 }, "detections per window \(perWindow)")
        // DeepForest's mosaic: coordinates truncated toward zero, one NMS at 0.15 over all.
        let whole = detections.map { r in r[5...8].map { Double($0)!.rounded(.towardZero) } }
        let scores = detections.map { Double($0[10])! }
        let kept = Self.nms(whole, scores, 0.15)
        #expect(kept.count >= 200 && kept.count < detections.count, "\(kept.count) of \(detections.count) kept")
        let rows = CSVRows.parse(try String(contentsOfFile: csv, encoding: .utf8)).dropFirst()
        let found = rows.map { r in (box: r[0...3].map { Double($0)! }, score: Double(r[5])!) }
        Self.expectMatch(found, kept.map { (box: whole[$0], score: scores[$0]) })
    }

    @Test("36 windows held to torchvision in float64: a raster repeating with the windows' stride (patch_overlap=0.25), so one window's float64 pass is every window's")
    func thirtySixWindowsInFloat64() throws {
        let directory = try TestSupport.temporaryDirectory()
        let fixtures = TestSupport.packageRoot.appendingPathComponent(".fixtures/deepforest_periodic")
        let csv = directory.appendingPathComponent("trees.csv").path
        let result = try TestSupport.run(
            mgpr, ["preset=deepforest", "image_path=\(fixtures.path)/periodic.tif", "weights=\(Self.fixtures.path)/deepforest_tree",
                   "patch_overlap=0.25", "output=\(csv)", "run_dir=\(directory.path)/run"], in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("6x6 tiles"), "\(result.stderr)")
        let perWindow = try Reference.array(fixtures, case: "deepforest_periodic", "window_scores").count
        let boxes = try Reference.array(fixtures, case: "deepforest_periodic", "truncated_boxes")
        let scores = try Reference.array(fixtures, case: "deepforest_periodic", "truncated_scores")
        #expect(perWindow >= 20 && scores.count < 36 * perWindow, "\(perWindow) per window, \(scores.count) after the mosaic NMS")
        Self.expectNoExactTies(boxes)
        let rows = CSVRows.parse(try String(contentsOfFile: csv, encoding: .utf8)).dropFirst()
        Self.expectMatch(
            rows.map { r in (box: r[0...3].map { Double($0)! }, score: Double(r[5])!) },
            scores.indices.map { i in (box: (0..<4).map { boxes[4 * i + $0] }, score: scores[i]) })
    }

    /// DeepForest's own evaluation code (scripts/fixtures.sh), and why it cannot run when not.
    static let evaluator: (folder: String, reason: String) = {
        let folder = TestSupport.packageRoot.appendingPathComponent(".fixtures/deepforest-eval").path
        guard FileManager.default.fileExists(atPath: folder + "/version") else {
            return ("", "DeepForest's evaluation code is not in \(folder): run scripts/fixtures.sh")
        }
        let probe = try? TestSupport.run("/usr/bin/python3", ["-c", "import pandas, scipy, pyproj, rasterio, xmltodict, PIL, yaml"])
        guard probe?.status == 0 else {
            return ("", "python3 lacks what DeepForest's evaluation imports (scripts/test.sh installs it): \(probe?.stderr ?? "")")
        }
        return (folder, "")
    }()

    @Test("DeepForest's own read_file and evaluate_boxes score the CSV against the float64 reference: recall and precision at least 0.99",
          .enabled(if: !evaluator.folder.isEmpty, Comment(rawValue: evaluator.reason)))
    func deepForestScores() throws {
        let directory = try TestSupport.temporaryDirectory()
        let csv = directory.appendingPathComponent("trees.csv").path
        try #require(try run(csv, in: directory).status == 0)
        // The reference as DeepForest's predict_tile returns it: whole-pixel boxes, the class
        // name, the raster's file name.
        let boxes = try reference("truncated_boxes")
        let truth = directory.appendingPathComponent("reference.csv").path
        try ("xmin,ymin,xmax,ymax,label,image_path\n" + stride(from: 0, to: boxes.count, by: 4).map { i in
            (0..<4).map { String(Int(boxes[i + $0])) }.joined(separator: ",") + ",Tree,mosaic.tif\n"
        }.joined()).write(toFile: truth, atomically: true, encoding: .utf8)
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/EndToEndTests/support/deepforest_evaluate.py").path
        let scored = try TestSupport.run("/usr/bin/python3", [script, Self.evaluator.folder, csv, truth])
        try #require(scored.status == 0, "\(scored.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as! [String: Any]
        let (recall, precision) = (result["box_recall"] as? Double ?? 0, result["box_precision"] as? Double ?? 0)
        #expect(result["ground_truth"] as? Int == boxes.count / 4 && boxes.count / 4 >= 20, "\(result)")
        #expect((result["predictions"] as? Int ?? 0) > 0, "\(result)")
        #expect(recall >= 0.99 && precision >= 0.99, "DeepForest's evaluate_boxes: \(result)")
    }

    @Test("DeepForest's names on the command line, a Lightning checkpoint's label_dict naming the class")
    func deepForestNames() throws {
        let directory = try TestSupport.temporaryDirectory()
        let csv = directory.appendingPathComponent("trees.csv").path
        let result = try TestSupport.run(
            mgpr, ["preset=deepforest", "path=\(Self.fixtures.path)/mosaic.tif", "weights=\(Self.fixtures.path)/v1_tree_lightning.ckpt",
                   "patch_size=400", "patch_overlap=0.05", "iou_threshold=0.15", "output=\(csv)", "run_dir=\(directory.path)/run"], in: directory)
        try #require(result.status == 0, "\(result.stderr)")
        let rows = CSVRows.parse(try String(contentsOfFile: csv, encoding: .utf8)).dropFirst()
        #expect(!rows.isEmpty && rows.allSatisfy { $0[4] == "Tree" }, "labels \(Set(rows.map { $0[4] }))")
        // The same table as the model folder gives: the checkpoint holds the same weights.
        let folder = directory.appendingPathComponent("folder.csv").path
        try #require(try run(folder, in: directory).status == 0)
        #expect(try String(contentsOfFile: folder, encoding: .utf8) == String(contentsOfFile: csv, encoding: .utf8))
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
