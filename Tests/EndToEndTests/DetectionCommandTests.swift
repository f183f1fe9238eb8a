import Foundation
import Testing
import TestSupport

/// `mgpr` with its default model, fasterrcnn, writing results users open in QGIS.
@Suite("mgpr model=fasterrcnn", .serialized)
struct DetectionCommandTests {
    let mgpr = TestSupport.product("mgpr")
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/fasterrcnn") }

    func reference(_ name: String) throws -> [Double] {
        try Reference.array(Self.fixtures, case: "neon_tile", name)
    }

    func detect(_ image: String, output: String, in directory: URL) throws -> TestSupport.ProcessResult {
        try TestSupport.run(
            mgpr, ["image_path=\(image)", "tile_size=400", "weights=\(Self.fixtures.path)/fasterrcnn.pth", "precision=32",
                   "output=\(output)", "run_dir=\(directory.path)/run-\(UUID().uuidString.prefix(6))"], in: directory)
    }

    /// The features of a vector file as WKT geometry and fields, through GDAL's own ogr2ogr.
    func features(_ path: String) throws -> [[String]] {
        let result = try TestSupport.run("/usr/bin/ogr2ogr", ["-f", "CSV", "/vsistdout/", path, "-lco", "GEOMETRY=AS_WKT"])
        try #require(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").dropFirst().map { line in
            // "WKT","label",score,"tile": the WKT (with its commas) between the first two quotes
            let parts = line.split(separator: "\"", maxSplits: 2, omittingEmptySubsequences: false)
            let fields = parts[2].filter { $0 != "\"" }.split(separator: ",").map(String.init)
            return [String(parts[1])] + fields
        }
    }

    @Test("a GeoPackage in the raster's CRS holds torchvision's detections, boxes placed by the geotransform")
    func geopackage() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("trees.gpkg").path
        let result = try detect(try TestSupport.neonCrop, output: output, in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let info = try TestSupport.run("/usr/bin/ogrinfo", ["-ro", "-so", output, "detections"])
        #expect(info.stdout.contains("Feature Count: 100") && info.stdout.contains("ID[\"EPSG\",32617]]"))
        let rows = try features(output)
        let boxes = try reference("boxes"), labels = try reference("labels")
        // The best detection: torchvision's first box, mapped with the NEON crop's geotransform.
        let x1 = 404_211.9 + 0.1 * Double(boxes[0]), y1 = 3_285_142.9 - 0.1 * Double(boxes[1])
        let x2 = 404_211.9 + 0.1 * Double(boxes[2]), y2 = 3_285_142.9 - 0.1 * Double(boxes[3])
        let first = rows.first { Int($0[1]) == Int(labels[0]) && $0[0].hasPrefix("POLYGON") }!
        let numbers = first[0].split(whereSeparator: { " ,()".contains($0) }).compactMap { Double($0) }
        #expect(numbers.count == 10)
        let expected = [x1, y1, x2, y1, x2, y2, x1, y2, x1, y1]
        #expect(zip(numbers, expected).allSatisfy { abs($0 - $1) < 0.01 }, "\(numbers) vs \(expected)")
    }

    @Test("GeoJSON and DeepForest-style CSV hold the same detections")
    func geojsonAndCSV() throws {
        let directory = try TestSupport.temporaryDirectory()
        let geojson = directory.appendingPathComponent("trees.geojson").path
        #expect(try detect(try TestSupport.neonCrop, output: geojson, in: directory).status == 0)
        #expect(try features(geojson).count == 100)
        let csv = directory.appendingPathComponent("trees.csv").path
        #expect(try detect(try TestSupport.neonCrop, output: csv, in: directory).status == 0)
        let rows = CSVRows.parse(try String(contentsOfFile: csv, encoding: .utf8))
        #expect(rows.first == ["xmin", "ymin", "xmax", "ymax", "label", "score", "image_path", "geometry", "tile"])
        let neon = try TestSupport.neonCrop
        #expect(rows.count == 101 && rows[1][6] == (neon as NSString).lastPathComponent && rows[1][7].hasPrefix("POLYGON (("))
        let boxes = try reference("boxes")
        let f = rows[1].prefix(4).map { Double($0)! }
        #expect(zip(f, boxes.prefix(4)).allSatisfy { abs($0 - $1) < 0.05 }, "\(f) vs \(Array(boxes.prefix(4)))")
    }

    @Test("a raster without georeferencing still works, in pixel coordinates, with a warning")
    func withoutGeoreferencing() throws {
        let directory = try TestSupport.temporaryDirectory()
        let png = directory.appendingPathComponent("crop.png").path
        #expect(try TestSupport.run("/usr/bin/gdal_translate", ["-q", "-of", "PNG", try TestSupport.neonCrop, png]).status == 0)
        try? FileManager.default.removeItem(atPath: png + ".aux.xml")
        let output = directory.appendingPathComponent("trees.gpkg").path
        let result = try detect(png, output: output, in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("has no georeferencing: tile bounds are in pixel coordinates"))
        let rows = try features(output)
        #expect(rows.count == 100)
        let numbers = rows[0][0].split(whereSeparator: { " ,()".contains($0) }).compactMap { Double($0) }
        #expect(numbers.allSatisfy { $0 >= 0 && $0 <= 400 }, "pixel coordinates: \(numbers)")
    }

    @Test("a raster with a geotransform but no CRS: a warning, a GeoPackage in its units with GeoPackage's undefined Cartesian SRS, GeoJSON refused before the first tile")
    func geotransformWithoutCRS() throws {
        let directory = try TestSupport.temporaryDirectory()
        let raster = directory.appendingPathComponent("nocrs.tif").path
        // The NEON crop, georeferenced (UTM metres) but with its CRS removed, by GDAL itself.
        try FileManager.default.copyItem(atPath: try TestSupport.neonCrop, toPath: raster)
        let unset = try TestSupport.run("/usr/bin/gdal_edit.py", ["-a_srs", "", raster])
        try #require(unset.status == 0, "\(unset.stderr)")
        let info = try TestSupport.run("/usr/bin/gdalinfo", [raster])
        try #require(!info.stdout.contains("PROJCRS") && info.stdout.contains("Origin = (404211.9"), "\(info.stdout)")

        let geojson = try detect(raster, output: directory.appendingPathComponent("trees.geojson").path, in: directory)
        #expect(geojson.status == 2, "\(geojson.stderr)")
        #expect(geojson.stderr.contains("GeoJSON is longitude and latitude on WGS84 (RFC 7946), and \(raster) has no CRS"), "\(geojson.stderr)")
        #expect(!geojson.stderr.contains("Predicting"))

        let output = directory.appendingPathComponent("trees.gpkg").path
        let result = try detect(raster, output: output, in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("has a geotransform but no CRS: results are in its own units, with no CRS"))
        let srs = try TestSupport.run("/usr/bin/ogrinfo", ["-ro", "-sql", "SELECT srs_id FROM gpkg_geometry_columns", output])
        #expect(srs.stdout.contains("srs_id (Integer64) = -1"), "GeoPackage's undefined Cartesian SRS: \(srs.stdout)")
        let numbers = try features(output)[0][0].split(whereSeparator: { " ,()".contains($0) }).compactMap { Double($0) }
        #expect(numbers.count == 10 && numbers.allSatisfy { $0 > 400_000 }, "the raster's own units: \(numbers)")
    }

    /// Boxes of a DeepForest-style CSV: (x1, y1, x2, y2, label, tile) in raster pixels.
    func csvBoxes(_ path: String) throws -> [(box: [Double], label: Int, tile: Int)] {
        CSVRows.parse(try String(contentsOfFile: path, encoding: .utf8)).dropFirst().map { f in
            (f[0...3].map { Double($0)! }, Int(f[4])!, Int(f[8])!)
        }
    }

    @Test("results are kept in the run directory when output is not set, and output=none discards them")
    func resultsKeptByDefault() throws {
        let directory = try TestSupport.temporaryDirectory()
        let run = directory.appendingPathComponent("run")
        let base = ["image_path=\(try TestSupport.neonCrop)", "tile_size=400", "weights=\(Self.fixtures.path)/fasterrcnn.pth",
                    "precision=32"]
        let kept = try TestSupport.run(mgpr, base + ["run_dir=\(run.path)"], in: directory)
        #expect(kept.status == 0, "\(kept.stderr)")
        let gpkg = run.appendingPathComponent("detections.gpkg").path
        #expect(kept.stderr.contains("Results will be written to \(gpkg)"))
        #expect(kept.stderr.contains("Results: 100 detections written to \(gpkg)"))
        let info = try TestSupport.run("/usr/bin/ogrinfo", ["-ro", "-so", gpkg, "detections"])
        #expect(info.stdout.contains("Feature Count: 100"), "\(info.stdout)")

        let discarded = directory.appendingPathComponent("discarded")
        let none = try TestSupport.run(mgpr, base + ["run_dir=\(discarded.path)", "output=none"], in: directory)
        #expect(none.status == 0, "\(none.stderr)")
        #expect(none.stderr.contains("Results are not kept (output=none)"))
        let files = try FileManager.default.contentsOfDirectory(atPath: discarded.path)
        #expect(!files.contains { $0.hasSuffix(".gpkg") || $0.hasSuffix(".csv") }, "\(files)")
    }

    @Test("output and run_dir are checked before any tile is read: one line naming the key")
    func outputChecked() throws {
        let directory = try TestSupport.temporaryDirectory()
        let base = ["image_path=\(try TestSupport.neonCrop)", "tile_size=400", "weights=\(Self.fixtures.path)/fasterrcnn.pth"]
        let aFile = directory.appendingPathComponent("a-file").path
        #expect(FileManager.default.createFile(atPath: aFile, contents: Data("x".utf8)))
        let cases: [([String], Int32, String)] = [
            (["output=\(directory.path)"], 2, "output=\(directory.path): it is a folder; give a file name"),
            (["output=\(aFile)/trees.gpkg"], 2, "output=\(aFile)/trees.gpkg: \(aFile) is a file, not a folder"),
            (["output=trees.shp"], 2, "output=trees.shp: fasterrcnn writes .gpkg, .geojson or .csv"),
            (["run_dir=\(aFile)/run"], 1, "cannot write the run directory \(aFile)/run: \(aFile) is a file, not a folder"),
            (["run_dir=\(aFile)"], 1, "cannot write the run directory \(aFile): it is a file"),
        ]
        for (arguments, status, message) in cases {
            let result = try TestSupport.run(mgpr, base + ["run_dir=\(directory.path)/run"] + arguments, in: directory)
            let errors = result.stderr.split(separator: "\n").filter { $0.contains("error:") }
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            #expect(errors.count == 1 && errors[0].contains(message), "\(arguments): \(errors)")
            #expect(!result.stderr.contains("Predicting DataLoader"), "\(arguments): tiles were read")
        }
    }

    @Test("GeoJSON follows RFC 7946: WGS84 longitude and latitude, no crs member")
    func geojsonRFC7946() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("trees.geojson").path
        #expect(try detect(try TestSupport.neonCrop, output: output, in: directory).status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as! [String: Any]
        #expect(json["crs"] == nil)
        let features = json["features"] as! [[String: Any]]
        #expect(features.count == 100)
        // The NEON crop lies in Florida (OSBS): about 81.99 W, 29.69 N.
        for feature in features {
            let ring = ((feature["geometry"] as! [String: Any])["coordinates"] as! [[[Double]]])[0]
            #expect(ring.allSatisfy { abs($0[0] + 81.99) < 0.01 && abs($0[1] - 29.69) < 0.01 }, "\(ring)")
        }
    }

    @Test("boxes are clipped to the raster when a tile reaches past it")
    func clippedToRaster() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("trees.csv").path
        let result = try TestSupport.run(
            mgpr, ["image_path=\(try TestSupport.neonCrop)", "tile_size=512", "weights=\(Self.fixtures.path)/fasterrcnn.pth",
                   "precision=32", "output=\(output)", "run_dir=\(directory.path)/run"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        // The resize to min_size is said once, with the keys that control it.
        let resized = result.stderr.split(separator: "\n").filter { $0.contains("reach the network at") }
        #expect(resized.count == 1 && resized[0].contains("tiles of 512 px reach the network at 800 px (min_size=800, max_size=1333")
            && resized[0].contains("min_size=512 keeps their size"), "\(resized)")
        let boxes = try csvBoxes(output)
        #expect(boxes.count > 20)
        #expect(boxes.allSatisfy { b in b.box.allSatisfy { $0 >= 0 && $0 <= 400 } && b.box[2] > b.box[0] && b.box[3] > b.box[1] })
        #expect(boxes.contains { $0.box[2] == 400 || $0.box[3] == 400 }, "some box should reach the raster's edge")
    }

    @Test("a CSV image path with a comma and quotes is quoted (RFC 4180)")
    func csvQuoting() throws {
        let directory = try TestSupport.temporaryDirectory()
        let image = directory.appendingPathComponent("a,b \"q\".tif").path
        try FileManager.default.copyItem(atPath: try TestSupport.neonCrop, toPath: image)
        let output = directory.appendingPathComponent("trees.csv").path
        #expect(try detect(image, output: output, in: directory).status == 0)
        // image_path is the file's name, as DeepForest writes it.
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.contains(",\"a,b \"\"q\"\".tif\","), "\(text.prefix(300))")
        let rows = CSVRows.parse(text)
        #expect(rows.count == 101 && rows.dropFirst().allSatisfy { $0.count == 9 && $0[6] == "a,b \"q\".tif" }, "\(rows.prefix(2))")
    }

    @Test("overlapping tiles over a 2x2 grid: seams merged, no object twice, results written")
    func seamsOverTwoByTwo() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("trees.csv").path
        let result = try TestSupport.run(
            mgpr, ["image_path=\(try TestSupport.neonCrop)", "tile_size=224", "overlap=48", "weights=\(Self.fixtures.path)/fasterrcnn.pth",
                   "precision=32", "output=\(output)", "run_dir=\(directory.path)/run"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("; 2x2 tiles"), "\(result.stderr)")
        let boxes = try csvBoxes(output)
        #expect(Set(boxes.map(\.tile)) == [0, 1, 2, 3], "every tile contributes: \(Set(boxes.map(\.tile)))")
        func iou(_ a: [Double], _ b: [Double]) -> Double {
            let w = max(0, min(a[2], b[2]) - max(a[0], b[0])), h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
            let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
            return union > 0 ? w * h / union : 0
        }
        var twice = 0
        for i in boxes.indices {
            for j in boxes.indices where j > i && boxes[i].label == boxes[j].label && iou(boxes[i].box, boxes[j].box) > 0.5 {
                twice += 1
            }
        }
        #expect(twice == 0, "\(twice) pairs of same-class boxes overlap by more than merge_iou")
    }
}
