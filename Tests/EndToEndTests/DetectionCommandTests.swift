import Foundation
import Testing
import TestSupport

/// `mgpr` with its default model, fasterrcnn, writing results users open in QGIS.
@Suite("mgpr model=fasterrcnn", .serialized)
struct DetectionCommandTests {
    let mgpr = TestSupport.product("mgpr")
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/fasterrcnn") }

    func reference(_ name: String) throws -> [Float] {
        let url = Self.fixtures.appendingPathComponent("cases/neon_tile.\(name).f32")
        guard FileManager.default.fileExists(atPath: url.path) else { throw TestSupport.FixtureMissing(path: url.path) }
        return try Data(contentsOf: url).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
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
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "image_path,xmin,ymin,xmax,ymax,label,score,tile")
        let neon = try TestSupport.neonCrop
        #expect(lines.count == 101 && lines[1].hasPrefix(neon + ","))
        let boxes = try reference("boxes")
        let f = lines[1].split(separator: ",").dropFirst().prefix(4).map { Float($0)! }
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
}
