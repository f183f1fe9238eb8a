import Foundation
import Testing
import TestSupport

/// `mgpr model=unet|deeplabv3|fcn` as a user runs it: one class raster over the real NEON
/// crop (400 px) in windows of 192 px overlapping by at least 48 (3 x 3 windows at 0,
/// 104 and 208), held to segmentation_models_pytorch's and torchvision's float64 outputs
/// for the same windows, stitched by the centre rule in the reference script itself
/// (reference/make_segmentation.py). Tolerance: at least 99.9% of pixels the same class,
/// every other one a near-tie (top two float64 logits within 1e-3 of the largest).
@Suite("mgpr segmentation", .serialized)
struct SegmentationCommandTests {
    let mgpr = TestSupport.product("mgpr")
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/segmentation") }

    func weights(_ name: String) throws -> String {
        let path = Self.fixtures.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else { throw TestSupport.FixtureMissing(path: path) }
        return path
    }

    /// What rasterio reads of a class raster: its ids and how it is described.
    struct ClassRaster: Decodable {
        var width: Int, height: Int
        var crs: String, transform: [Double], nodata: Double?, dtype: String
        var layout: String?, overviews: [Int], colormap: [Int]?
        var ids: [Int]
        /// rasterio's dataset_mask(): 0 where the raster holds no data.
        var mask: [Int]
    }

    static func read(_ path: String) throws -> ClassRaster {
        let script = """
            import json, sys, rasterio
            with rasterio.open(sys.argv[1]) as ds:
                try:
                    colour = list(ds.colormap(1)[1])
                except ValueError:
                    colour = None
                print(json.dumps({"width": ds.width, "height": ds.height, "crs": ds.crs.to_string(),
                    "transform": list(ds.transform)[:6], "nodata": ds.nodata, "dtype": ds.dtypes[0],
                    "layout": ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"), "overviews": ds.overviews(1),
                    "colormap": colour, "ids": ds.read(1).ravel().tolist(), "mask": ds.dataset_mask().ravel().tolist()}))
            """
        let result = try TestSupport.run(TestSupport.systemPython, ["-c", script, path])
        try #require(result.status == 0, "rasterio: \(result.stderr)")
        return try JSONDecoder().decode(ClassRaster.self, from: Data(result.stdout.utf8))
    }

    /// The reference's stitched classes and per-pixel margins for `model`.
    static func reference(_ model: String) throws -> (ids: [Int], margin: [Float]) {
        let ids = try Data(contentsOf: fixtures.appendingPathComponent("cases/\(model).stitched.classes.u8")).map(Int.init)
        let margin = try Data(contentsOf: fixtures.appendingPathComponent("cases/\(model).stitched.margin.f32"))
            .withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return (ids, margin)
    }

    /// 3 x 3 windows of 192 px over the 400 px crop, as the reference stitched them.
    static let grid = ["tile_size=192", "overlap=48", "precision=32", "batch_size=4", "workers=1"]

    func run(_ arguments: [String], in directory: URL) throws -> TestSupport.ProcessResult {
        try TestSupport.run(mgpr, arguments + Self.grid, in: directory)
    }

    /// Starts mgpr with the tests' grid and batches, output discarded.
    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mgpr)
        process.arguments = arguments + Self.grid
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// The reference's classes where the input holds data, nodata where it does not.
    func expectMatches(_ raster: ClassRaster, model: String, input: String? = nil) throws {
        let (ids, margin) = try Self.reference(model)
        try #require(raster.ids.count == ids.count)
        let inputMask = try Self.read(try input ?? TestSupport.neonCrop).mask
        let missing = inputMask.indices.filter { inputMask[$0] == 0 }
        #expect(missing.allSatisfy { raster.ids[$0] == Int(raster.nodata ?? -1) }, "\(model): a pixel without data got a class")
        #expect(raster.ids.indices.allSatisfy { inputMask[$0] == 0 || raster.ids[$0] != Int(raster.nodata ?? -1) })
        let differing = ids.indices.filter { inputMask[$0] != 0 && raster.ids[$0] != ids[$0] }
        #expect(Double(differing.count) <= 0.001 * Double(ids.count), "\(model): \(differing.count) of \(ids.count) pixels differ")
        #expect(differing.allSatisfy { margin[$0] < 1e-3 }, "\(model): a pixel differs that is no near-tie")
        #expect(Set(ids).count >= 3, "\(model): the reference has too few classes to compare")
    }

    @Test("model=unet over 9 windows is smp's U-Net stitched by the centre rule, as a COG in the input's grid")
    func unet() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("landcover.tif").path
        let result = try run(["model=unet", "weights=\(try weights("unet_resnet34.pth"))", "image_path=\(try TestSupport.neonCrop)",
                              "output=\(output)", "run_dir=\(directory.path)/run"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("U-Net (ResNet-34 encoder, 5 classes, 3 bands)"), "\(result.stderr)")
        let raster = try Self.read(output)
        try expectMatches(raster, model: "unet_resnet34")
        #expect((raster.width, raster.height, raster.dtype) == (400, 400, "uint8"))
        #expect(raster.crs == "EPSG:32617")
        let input = try Self.read(try TestSupport.neonCrop)
        #expect(zip(raster.transform, input.transform).allSatisfy { abs($0 - $1) < 1e-6 }, "\(raster.transform) vs \(input.transform)")
        #expect(raster.nodata == 255)
        #expect(raster.layout == "COG")
        #expect(raster.colormap?.count == 4)
        // classes.csv: every pixel counted once, areas in square metres.
        let table = try String(contentsOfFile: directory.appendingPathComponent("landcover.classes.csv").path, encoding: .utf8)
        let rows = CSVRows.parse(table).dropFirst()
        #expect(rows.count == 5)
        for row in rows {
            let id = Int(row[0])!, pixels = Int(row[2])!
            #expect(pixels == raster.ids.filter { $0 == id }.count, "class \(id)")
            #expect(abs(Double(row[3])! - Double(pixels) * 0.01) < 1e-6 * max(1, Double(pixels)))
        }
        // The crop's nodata (255 in every band, rasterio's dataset mask) stays nodata, uncounted.
        let missing = input.mask.filter { $0 == 0 }.count
        #expect(missing > 0, "the crop has pixels without data to check")
        #expect(raster.ids.filter { $0 == 255 }.count == missing)
        #expect(rows.map { Int($0[2])! }.reduce(0, +) == 160_000 - missing)
    }

    @Test("model=deeplabv3 over 9 windows is torchvision's, with the class names in the raster and classes.csv")
    func deeplabv3() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("classes.tif").path
        let names = ["water", "tree", "grass", "road", "roof", "sand"]
        let result = try run(["model=deeplabv3", "weights=\(try weights("deeplabv3.pth"))", "image_path=\(try TestSupport.neonCrop)",
                              "label_names=[\(names.joined(separator: ","))]", "output=\(output)", "run_dir=\(directory.path)/run"],
                             in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        try expectMatches(try Self.read(output), model: "deeplabv3")
        let aux = try String(contentsOfFile: output + ".aux.xml", encoding: .utf8)
        for name in names { #expect(aux.contains("<Category>\(name)</Category>"), "\(aux)") }
        let table = try String(contentsOfFile: directory.appendingPathComponent("classes.classes.csv").path, encoding: .utf8)
        #expect(CSVRows.parse(table).dropFirst().map { $0[1] } == names)
        // The report lays the classes over the picture, each named with its share in the legend.
        let report = try String(contentsOfFile: directory.appendingPathComponent("run/report.html").path, encoding: .utf8)
        #expect(report.contains("alt=\"classes\" src=\"data:image/png;base64,"))
        for row in CSVRows.parse(table).dropFirst() {
            let share = String(format: "%.1f", Double(row[4])! * 100)
            #expect(report.contains("\(row[1]) (class \(row[0])) (\(share)%)"), "legend entry for \(row[1])")
        }
    }

    @Test("model=fcn over 9 windows is torchvision's")
    func fcn() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("fcn.tif").path
        let result = try run(["model=fcn", "weights=\(try weights("fcn.pth"))", "image_path=\(try TestSupport.neonCrop)",
                              "output=\(output)", "run_dir=\(directory.path)/run"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        try expectMatches(try Self.read(output), model: "fcn")
    }

    @Test("a 4-band U-Net reads four bands with the mean and std it was trained with")
    func fourBands() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("rgbn.tif").path
        let image = Self.fixtures.appendingPathComponent("rgbn.tif").path
        let common = ["model=unet", "weights=\(try weights("unet_resnet50_rgbn.pth"))", "image_path=\(image)", "bands=[1,2,3,4]"]
        let refused = try run(common + ["output=\(output)", "run_dir=\(directory.path)/refused"], in: directory)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("mean=[...] and std=[...]"), "\(refused.stderr)")
        let result = try run(common + ["mean=[0.485,0.456,0.406,0.45]", "std=[0.229,0.224,0.225,0.225]", "output=\(output)",
                                       "run_dir=\(directory.path)/run"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        try expectMatches(try Self.read(output), model: "unet_resnet50_rgbn", input: image)
    }

    @Test("two ranks write parts that gather into the one-rank raster; mgpr merge does it again; altered pixels are named")
    func ranks() throws {
        let directory = try TestSupport.temporaryDirectory()
        let image = try TestSupport.neonCrop, unet = try weights("unet_resnet34.pth")
        let single = directory.appendingPathComponent("single.tif").path
        #expect(try run(["model=unet", "weights=\(unet)", "image_path=\(image)", "output=\(single)", "run_dir=\(directory.path)/single"],
                        in: directory).status == 0)
        let shared = directory.appendingPathComponent("shared.tif").path
        let processes = try [1, 0].map { rank in
            try start(["model=unet", "weights=\(unet)", "image_path=\(image)", "output=\(shared)", "run_dir=\(directory.path)/ranks"],
                      environment: ["RANK": "\(rank)", "WORLD_SIZE": "2", "LOCAL_RANK": "\(rank)"])
        }
        for process in processes { process.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 })
        let expected = try Self.read(single).ids
        #expect(try Self.read(shared).ids == expected)
        let part0 = try String(contentsOfFile: directory.appendingPathComponent("ranks/rank-0/results.csv").path, encoding: .utf8)
        let part1 = try String(contentsOfFile: directory.appendingPathComponent("ranks/rank-1/results.csv").path, encoding: .utf8)
        #expect(part0.split(separator: "\n").count - 1 + part1.split(separator: "\n").count - 1 == 9)

        let merged = directory.appendingPathComponent("merged.tif").path
        let merge = try TestSupport.run(mgpr, ["merge", "run_dir=\(directory.path)/ranks", "output=\(merged)"])
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try Self.read(merged).ids == expected)

        // A flipped byte in a rank's pixels is found and named, not merged.
        let pixels = directory.appendingPathComponent("ranks/rank-1/classes.bin")
        var bytes = try Data(contentsOf: pixels)
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: pixels)
        let damaged = try TestSupport.run(mgpr, ["merge", "run_dir=\(directory.path)/ranks", "output=\(merged)", "overwrite=true"])
        #expect(damaged.status != 0)
        #expect(damaged.stderr.contains("rank-1/classes.bin"), "\(damaged.stderr)")
    }

    @Test("a run stopped by SIGTERM resumes from its journal into the uninterrupted run's raster")
    func resume() throws {
        let directory = try TestSupport.temporaryDirectory()
        let image = try TestSupport.neonCrop, unet = try weights("unet_resnet34.pth")
        let whole = directory.appendingPathComponent("whole.tif").path
        #expect(try run(["model=unet", "weights=\(unet)", "image_path=\(image)", "output=\(whole)", "run_dir=\(directory.path)/whole"],
                        in: directory).status == 0)
        let output = directory.appendingPathComponent("resumed.tif").path
        let arguments = ["model=unet", "weights=\(unet)", "image_path=\(image)", "output=\(output)", "run_dir=\(directory.path)/run"]
        let process = try start(arguments)
        // Stopped once its first batch is journaled: a cell written, the rest not.
        let journal = directory.appendingPathComponent("run/rank-0/journal.txt").path
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning, Date() < deadline,
              ((try? String(contentsOfFile: journal, encoding: .utf8))?.split(separator: "\n").count ?? 0) < 4 {
            usleep(20_000)
        }
        process.terminate()
        process.waitUntilExit()
        let done = (try? String(contentsOfFile: journal, encoding: .utf8))?.split(separator: "\n").count ?? 0
        try #require(done < 9, "the run finished before it could be stopped (\(done) tiles journaled)")
        let resumed = try run(arguments + ["resume=true"], in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("Resuming: \(done) of this rank's 9 tiles already done"), "\(resumed.stderr)")
        #expect(try Self.read(output).ids == (try Self.read(whole).ids))
    }

    /// What rasterio reads of a probability raster: every band, as stored, and how it is described.
    struct Bands: Decodable {
        var count: Int, dtype: String, layout: String?
        var scales: [Double], nodata: Double?, descriptions: [String?]
        /// Band after band, row-major; NaN read as nil.
        var values: [Double?]
    }

    static func readBands(_ path: String) throws -> Bands {
        let script = """
            import json, math, sys, rasterio
            with rasterio.open(sys.argv[1]) as ds:
                values = [None if math.isnan(v) else v for v in ds.read().astype(float).ravel().tolist()]
                print(json.dumps({"count": ds.count, "dtype": ds.dtypes[0], "scales": list(ds.scales),
                    "layout": ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"),
                    "nodata": None if ds.nodata is None or math.isnan(ds.nodata) else ds.nodata,
                    "descriptions": list(ds.descriptions), "values": values}))
            """
        let result = try TestSupport.run(TestSupport.systemPython, ["-c", script, path])
        try #require(result.status == 0, "rasterio: \(result.stderr)")
        return try JSONDecoder().decode(Bands.self, from: Data(result.stdout.utf8))
    }

    static func float64s(_ name: String) throws -> [Double] {
        try Data(contentsOf: fixtures.appendingPathComponent("cases/\(name)")).withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
    }

    /// `probabilities` against the reference's (a plane per class over the 400 px crop),
    /// within `tolerance`; NaN exactly where the input holds no data.
    func expectProbabilities(_ bands: Bands, _ reference: [Double], scale: Double, tolerance: Double, mask: [Int]) {
        #expect(bands.values.count == reference.count)
        var worst = 0.0, wrongNodata = 0
        for (i, value) in bands.values.enumerated() {
            let missing = mask[i % mask.count] == 0
            let isNodata = value == nil || value == bands.nodata
            guard let value, !missing, !isNodata else {
                if missing != isNodata { wrongNodata += 1 }
                continue
            }
            worst = max(worst, abs(value * scale - reference[i]))
        }
        #expect(wrongNodata == 0, "\(wrongNodata) values are nodata where the input has data, or the reverse")
        #expect(worst <= tolerance, "largest probability error \(worst)")
    }

    @Test("probabilities=true and probabilities=float write a band per class beside the classes, the chosen window's softmax")
    func probabilities() throws {
        let directory = try TestSupport.temporaryDirectory()
        let image = try TestSupport.neonCrop, unet = try weights("unet_resnet34.pth")
        let mask = try Self.read(image).mask
        let reference = try Self.float64s("unet_resnet34.stitched.probabilities.f64")
        for (setting, type) in [("true", "uint8"), ("float", "float32")] {
            let output = directory.appendingPathComponent("\(setting).tif").path
            let result = try run(["model=unet", "weights=\(unet)", "image_path=\(image)", "output=\(output)", "probabilities=\(setting)",
                                  "label_names=[a,b,c,d,e]", "run_dir=\(directory.path)/\(setting)"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            try expectMatches(try Self.read(output), model: "unet_resnet34")
            let bands = try Self.readBands(directory.appendingPathComponent("\(setting).probabilities.tif").path)
            #expect((bands.count, bands.dtype, bands.layout) == (5, type, "COG"))
            #expect(bands.descriptions == ["a", "b", "c", "d", "e"])
            if setting == "true" {
                // Kept as Float16 in the part (half an ulp below 1: 2^-12), then written as
                // round(p x 254) (half a step), on top of float32's own error (the float case's bound).
                #expect(bands.nodata == 255 && bands.scales.allSatisfy { abs($0 - 1 / 254) < 1e-12 }, "\(bands.scales)")
                expectProbabilities(bands, reference, scale: 1 / 254, tolerance: 0.5 / 254 + 0x1p-12 + 2e-4, mask: mask)
            } else {
                expectProbabilities(bands, reference, scale: 1, tolerance: 2e-4, mask: mask)
            }
        }
    }

    @Test("stitch=blend over two ranks is the reference's tent-weighted blend of the 9 windows' softmax; merge does it again")
    func blend() throws {
        let directory = try TestSupport.temporaryDirectory()
        let image = try TestSupport.neonCrop, unet = try weights("unet_resnet34.pth")
        let ids = try Data(contentsOf: Self.fixtures.appendingPathComponent("cases/unet_resnet34.blended.classes.u8")).map(Int.init)
        let margin = try Data(contentsOf: Self.fixtures.appendingPathComponent("cases/unet_resnet34.blended.margin.f32"))
            .withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let stitched = try Self.reference("unet_resnet34").ids
        let mask = try Self.read(image).mask
        func expectBlended(_ raster: ClassRaster, near: Float) {
            let differing = ids.indices.filter { mask[$0] != 0 && raster.ids[$0] != ids[$0] }
            #expect(Double(differing.count) <= 0.001 * Double(ids.count), "\(differing.count) of \(ids.count) pixels differ")
            #expect(differing.allSatisfy { margin[$0] < near }, "a pixel differs that is no near-tie")
            #expect(mask.indices.allSatisfy { (mask[$0] == 0) == (raster.ids[$0] == 255) })
        }
        let unlike = ids.indices.filter { mask[$0] != 0 && ids[$0] != stitched[$0] }.count
        #expect(unlike >= 100, "the blend should differ from the centre rule somewhere to be tested: \(unlike) pixels")

        // Float32 probabilities, windows shared by two ranks: neighbours' pieces cross parts.
        let output = directory.appendingPathComponent("blend.tif").path
        let processes = try [1, 0].map { rank in
            try start(["model=unet", "weights=\(unet)", "image_path=\(image)", "output=\(output)", "stitch=blend",
                       "probabilities=float", "run_dir=\(directory.path)/ranks"],
                      environment: ["RANK": "\(rank)", "WORLD_SIZE": "2", "LOCAL_RANK": "\(rank)"])
        }
        for process in processes { process.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 })
        let raster = try Self.read(output)
        expectBlended(raster, near: 1e-3)
        let bands = try Self.readBands(directory.appendingPathComponent("blend.probabilities.tif").path)
        expectProbabilities(bands, try Self.float64s("unet_resnet34.blended.probabilities.f64"), scale: 1, tolerance: 2e-4, mask: mask)
        let merged = directory.appendingPathComponent("merged.tif").path
        let merge = try TestSupport.run(mgpr, ["merge", "run_dir=\(directory.path)/ranks", "output=\(merged)"])
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try Self.read(merged).ids == raster.ids)

        // Without probabilities the windows' are kept as Float16: the same classes away from near-ties.
        let half = directory.appendingPathComponent("half.tif").path
        let result = try run(["model=unet", "weights=\(unet)", "image_path=\(image)", "output=\(half)", "stitch=blend",
                              "run_dir=\(directory.path)/half"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        expectBlended(try Self.read(half), near: 2e-3)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("half.probabilities.tif").path))
        // There a tile keeps its cell's own probabilities only where neighbours' windows reach.
        let rows = CSVRows.parse(try String(contentsOfFile: "\(directory.path)/half/rank-0/results.csv", encoding: .utf8)).dropFirst()
        func rect(_ r: [String], _ at: Int) -> (x: Range<Int>, y: Range<Int>) {
            let v = r[at..<(at + 4)].map { Int($0)! }
            return (v[0]..<(v[0] + v[2]), v[1]..<(v[1] + v[3]))
        }
        let windows = Dictionary(rows.map { (Int($0[0])!, rect($0, 1)) }, uniquingKeysWith: { a, _ in a })
        let cells = Dictionary(uniqueKeysWithValues: rows.filter { $0[10] == "ids" }.map { (Int($0[0])!, rect($0, 6)) })
        #expect(windows.count == 9 && cells.count == 9)
        var kept = 0, cellPixels = 0
        for (tile, cell) in cells {
            let own = rows.filter { Int($0[0])! == tile && Int($0[5])! == tile && $0[10] == "f16" }.map { rect($0, 6) }
            for y in cell.y {
                for x in cell.x {
                    let reached = windows.contains { $0.key != tile && $0.value.x.contains(x) && $0.value.y.contains(y) }
                    let stored = own.contains { $0.x.contains(x) && $0.y.contains(y) }
                    #expect(stored == reached, "tile \(tile), pixel (\(x), \(y)): stored \(stored), reached \(reached)")
                    if stored != reached { return }
                    kept += stored ? 1 : 0
                }
            }
            cellPixels += cell.x.count * cell.y.count
        }
        #expect(kept < cellPixels, "\(kept) of \(cellPixels) pixels keep their own probabilities")
    }

    @Test("bad settings are named before any tile is read")
    func refusals() throws {
        let directory = try TestSupport.temporaryDirectory()
        let image = try TestSupport.neonCrop
        let odd = try TestSupport.run(mgpr, ["model=unet", "weights=\(try weights("unet_resnet34.pth"))", "image_path=\(image)",
                                             "tile_size=200", "run_dir=\(directory.path)/odd"])
        #expect(odd.status != 0)
        #expect(odd.stderr.contains("multiple of 32"), "\(odd.stderr)")
        let dummy = try TestSupport.run(mgpr, ["model=unet", "dummy_dataset_count=2", "tile_size=64", "run_dir=\(directory.path)/dummy"])
        #expect(dummy.status != 0)
        #expect(dummy.stderr.contains("dummy tiles have none"), "\(dummy.stderr)")
        let timing = try TestSupport.run(mgpr, ["model=unet", "dummy_dataset_count=2", "tile_size=64", "batch_size=2", "output=none",
                                                "dummy_dataset_delay=0", "run_dir=\(directory.path)/timing"])
        #expect(timing.status == 0, "on dummy tiles with output=none the model is timed: \(timing.stderr)")
        let csv = try TestSupport.run(mgpr, ["model=unet", "image_path=\(image)", "output=\(directory.path)/x.csv",
                                             "tile_size=192", "run_dir=\(directory.path)/csv"])
        #expect(csv.status != 0)
        #expect(csv.stderr.contains("unet writes a class raster"), "\(csv.stderr)")
        let wrong = try TestSupport.run(mgpr, ["model=unet", "weights=\(try weights("deeplabv3.pth"))", "image_path=\(image)",
                                               "tile_size=192", "run_dir=\(directory.path)/wrong"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("encoder.conv1.weight"), "\(wrong.stderr)")
        let other = try TestSupport.run(mgpr, ["model=resnet50", "stitch=blend", "dummy_dataset_count=1", "run_dir=\(directory.path)/other"])
        #expect(other.status != 0)
        #expect(other.stderr.contains("stitch=blend: applies to segmentation models (deeplabv3, fcn, unet), not resnet50"), "\(other.stderr)")
    }
}
