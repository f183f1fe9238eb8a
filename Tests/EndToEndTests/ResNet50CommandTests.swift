import Foundation
import Testing
import TestSupport

/// `mgpr model=resnet50` as a user runs it, against torchvision's answer for the same tile.
@Suite("mgpr model=resnet50")
struct ResNet50CommandTests {
    let mgpr = TestSupport.product("mgpr")
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/resnet50") }

    func weights(_ name: String = "resnet50.pth") throws -> String {
        let path = Self.fixtures.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else { throw TestSupport.FixtureMissing(path: path) }
        return path
    }

    @Test("the CSV row for a whole-raster tile holds torchvision's top-1 class and probability, and map bounds",
          arguments: ["resnet50.pth", "resnet50.safetensors"])
    func geotiffTile(weightsFile: String) throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("classes.csv").path
        let result = try TestSupport.run(
            mgpr, ["model=resnet50", "weights=\(try weights(weightsFile))", "image_path=\(try TestSupport.neonCrop)",
                   "tile_size=400", "precision=32", "output=\(output)", "run_dir=\(directory.path)/run"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "tile,col_off,row_off,width,height,class,score,minx,miny,maxx,maxy")
        try #require(rows.count == 2)
        let fields = rows[1].split(separator: ",").map(String.init)
        let logits = try Reference.array(Self.fixtures, case: "geotiff_tile_400", "logits")
        let top = logits.max()!
        let probability = 1 / logits.reduce(0) { $0 + exp($1 - top) }
        #expect(fields[0...4] == ["0", "0", "0", "400", "400"])
        #expect(Int(fields[5]) == logits.firstIndex(of: top))
        #expect(abs(Double(fields[6])! - probability) < 1e-4, "score \(fields[6]) vs torchvision \(probability)")
        #expect(fields[7...10] == ["404211.9", "3285102.9", "404251.9", "3285142.9"])
    }

    @Test("every tile gets exactly one row, in bf16 too")
    func everyTileOnce() throws {
        let directory = try TestSupport.temporaryDirectory()
        let output = directory.appendingPathComponent("classes.csv").path
        let result = try TestSupport.run(
            mgpr, ["model=resnet50", "weights=\(try weights())", "image_path=\(try TestSupport.neonCrop)", "tile_size=128",
                   "batch_size=5", "workers=2", "precision=bf16-mixed", "output=\(output)", "run_dir=\(directory.path)/run"])
        #expect(result.status == 0, "\(result.stderr)")
        let tiles = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Int($0.split(separator: ",")[0])! }
        #expect(tiles.sorted() == Array(0..<16))
        #expect(result.stdout.contains("Average Busy Time per Batch"))
    }

    @Test("DNNL_MAX_CPU_ISA=AVX2 makes bf16-mixed run in float32, says so, and gives the float32 rows")
    func avx2Cap() throws {
        let directory = try TestSupport.temporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["DNNL_MAX_CPU_ISA"] = "AVX2"
        func run(_ precision: String) throws -> (TestSupport.ProcessResult, String) {
            let output = directory.appendingPathComponent("classes-\(precision).csv").path
            let result = try TestSupport.run(
                mgpr, ["model=resnet50", "weights=\(try weights())", "image_path=\(try TestSupport.neonCrop)",
                       "tile_size=200", "precision=\(precision)", "output=\(output)", "run_dir=\(directory.path)/\(precision)"],
                environment: environment)
            return (result, try String(contentsOfFile: output, encoding: .utf8))
        }
        let (low, lowRows) = try run("bf16-mixed")
        let (full, fullRows) = try run("32")
        #expect(low.status == 0 && full.status == 0, "\(low.stderr)\n\(full.stderr)")
        #expect(low.stderr.contains(
            "precision=bf16-mixed: this CPU has no native bf16 (avx2, capped by DNNL_MAX_CPU_ISA=AVX2): running in float32"),
            "\(low.stderr)")
        #expect(lowRows.split(separator: "\n").count == 5)
        #expect(lowRows == fullRows)
    }

    @Test("without weights it warns that results are for timing only")
    func seeded() throws {
        let directory = try TestSupport.temporaryDirectory()
        let result = try TestSupport.run(
            mgpr, ["model=resnet50", "dummy_dataset_count=2", "tile_size=64", "batch_size=2", "dummy_dataset_delay=0",
                   "run_dir=\(directory.path)/run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("[WARNING] - No weights given (weights=null): resnet50 runs with seeded random weights; results are for timing only"))
    }

    @Test("bad model settings get one line naming what to change")
    func badSettings() throws {
        let directory = try TestSupport.temporaryDirectory()
        let module = Self.fixtures.appendingPathComponent("hostile/whole_module.pth").path
        let cases: [([String], Int32, String)] = [
            (["model=resnet50", "weights=\(module)"], 1, "holds a pickled torch.nn.modules.linear.Linear, not a state_dict"),
            (["model=resnet50", "weights=/no/w.pth"], 1, "weights file not found: /no/w.pth"),
            (["model=resnet50", "output=x.gpkg"], 2, "output=x.gpkg: resnet50 writes a .csv"),
            (["model=none", "output=x.csv"], 2, "output=x.csv: model=none computes no results"),
            (["model=resnet50", "image_path=\(try TestSupport.neonCrop)", "bands=[1,2]"], 2, "resnet50 takes 3 bands"),
            (["model=resnet50", "precision=64"], 2, "precision=64: mgpr computes in 32 or 16 bits"),
            (["model=resnet2"], 2, "model=resnet2: valid values are fasterrcnn, retinanet, resnet50, deeplabv3, fcn, unet, none"),
        ]
        for (arguments, status, message) in cases {
            let result = try TestSupport.run(mgpr, arguments + ["dummy_dataset_count=1", "run_dir=\(directory.path)/run"], in: directory)
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").last?.contains(message) == true, "\(arguments): \(result.stderr)")
        }
    }
}
