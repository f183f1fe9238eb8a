import Foundation
import Testing
import TestSupport

/// The built `mgpr` and `mgpr-test-image`, run as a user runs them.
@Suite("mgpr end to end")
struct CommandLineTests {
    let mgpr = TestSupport.product("mgpr")
    let testImage = TestSupport.product("mgpr-test-image")

    func json(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
    }

    @Test("a dummy-data run prints its configuration, progress and summary, and fills its run directory")
    func dummyRun() throws {
        let directory = try TestSupport.temporaryDirectory()
        let runDir = directory.appendingPathComponent("run")
        let result = try TestSupport.run(
            mgpr, ["model=none", "dummy_dataset_count=20", "tile_size=64", "batch_size=4", "dummy_dataset_delay=0.001",
                   "workers=2", "log_interval=2", "run_dir=\(runDir.path)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("tile_size: 64\n") && result.stdout.contains("use_fake_data: true\n"))
        // Only the keys that bear on this run: no raster, detector or test-image keys for dummy tiles and no model.
        for absent in ["image_path:", "bands:", "score_threshold:", "merge_iou:", "test_image_crs:", "image_size:", "weights:"] {
            #expect(!result.stdout.contains("\n" + absent) && !result.stdout.hasPrefix(absent), "\(absent)")
        }
        #expect(result.stdout.contains("dummy_dataset_count: 20\n") && result.stdout.contains("run_dir: "))
        #expect(result.stdout.contains("CPU Usage Summary:\nCPU 0:\n  Average Memory Usage per Batch: "))
        // No GPU here: auto says why it runs on the CPU, in the seed's words too.
        #expect(result.stderr.contains("accelerator=auto: running on the CPU: libcuda.so.1 (the NVIDIA driver's CUDA library) not found"))
        // Short: where the libraries were looked for is doctor -v's to say.
        let cpuLine = result.stderr.split(separator: "\n").first { $0.contains("running on the CPU") } ?? ""
        #expect(cpuLine.count < 220 && !cpuLine.contains("tried") && cpuLine.contains("mgpr doctor -v"), "\(cpuLine)")
        #expect(result.stderr.contains("GPU available: False, used: False"))
        #expect(result.stderr.contains("Predicting DataLoader 0: 100%|"))
        #expect(result.stderr.contains(" 20/20 ["), "counted in tiles")
        // Not a terminal: plain lines at 0% (the start), at 2 and 4 batches, and at the end.
        #expect(result.stderr.components(separatedBy: "Predicting DataLoader 0:").count - 1 == 4)
        #expect(result.stderr.contains("Predicting DataLoader 0:   0%|          | 0/20 [00:00<?, ?tiles/s]"))
        #expect(result.stderr.range(of: #"\]\[mgpr\]\[INFO\] - Prediction completed in \d+\.\d\d seconds"#, options: .regularExpression) != nil)

        let summary = try json(runDir.appendingPathComponent("summary.json"))
        #expect(summary["tiles"] as? Int == 20 && summary["batches"] as? Int == 5)
        for key in ["elapsed_seconds", "tiles_per_second", "bytes_read", "wait_seconds", "busy_seconds", "read_seconds"] {
            #expect(summary[key] != nil, "summary.json lacks \(key)")
        }
        let metrics = try String(contentsOf: runDir.appendingPathComponent("rank-0/metrics.csv"), encoding: .utf8)
            .split(separator: "\n")
        #expect(metrics.first == "batch,device,tiles,wait_s,read_s,busy_s,bytes_read,finished_at_s,peak_rss_bytes,device_bytes,skipped,write_s,network_s,copy_s,postprocess_s")
        #expect(metrics.count == 6)
        let saved = try String(contentsOf: runDir.appendingPathComponent("config.yaml"), encoding: .utf8)
        #expect(saved.contains("batch_size: 4\n"))
    }

    @Test("a raster run reads every tile of the image, and the default run directory is Hydra's")
    func rasterRun() throws {
        let directory = try TestSupport.temporaryDirectory()
        let made = try TestSupport.run(
            testImage, ["image_size=1000", "tile_size=256", "image_path=ortho.tif", "seed=3",
                        "test_image_crs=EPSG:32633", "test_image_origin=[500000,6000000]", "test_image_pixel_size=0.5"],
            in: directory)
        #expect(made.status == 0, "\(made.stderr)")
        let info = try TestSupport.run("/usr/bin/gdalinfo", [directory.appendingPathComponent("ortho.tif").path])
        #expect(info.stdout.contains("UTM zone 33N") && info.stdout.contains("Origin = (500000.000000000000000,6000000.000000000000000)"))
        #expect(info.stdout.contains("Pixel Size = (0.500000000000000,-0.500000000000000)"))

        let result = try TestSupport.run(
            mgpr, ["model=none", "image_path=ortho.tif", "tile_size=256", "batch_size=3", "workers=2", "overlap=10"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("ortho.tif: 1000x1000 px, 3 bands, reading bands 1,2,3 (Byte), GTiff, CRS EPSG:32633; 5x5 tiles"))
        let outputs = directory.appendingPathComponent("outputs")
        let days = try FileManager.default.contentsOfDirectory(atPath: outputs.path)
        #expect(days.count == 1 && days[0].range(of: #"^\d{4}-\d\d-\d\d$"#, options: .regularExpression) != nil)
        let times = try FileManager.default.contentsOfDirectory(atPath: outputs.appendingPathComponent(days[0]).path)
        #expect(times.count == 1 && times[0].range(of: #"^\d\d-\d\d-\d\d$"#, options: .regularExpression) != nil)
        let summary = try json(outputs.appendingPathComponent("\(days[0])/\(times[0])/summary.json"))
        #expect(summary["tiles"] as? Int == 25 && summary["batches"] as? Int == 9)
        // 5x5 tiles of 256 px over 1000 px, every one inside the image.
        #expect(summary["bytes_read"] as? Int == 25 * 256 * 256 * 3)

        let repeated = try TestSupport.run(
            mgpr, ["model=none", "image_path=ortho.tif", "tile_size=512", "bands=[1,2,3,1]", "run_dir=run-bands"], in: directory)
        #expect(repeated.status == 0, "\(repeated.stderr)")
        #expect(repeated.stderr.contains("ortho.tif: 1000x1000 px, 3 bands, reading bands 1,2,3,1 (Byte), GTiff"), "\(repeated.stderr)")
    }

    @Test("--cfg job prints the resolved configuration and runs nothing")
    func printConfig() throws {
        let directory = try TestSupport.temporaryDirectory()
        let result = try TestSupport.run(mgpr, ["--cfg", "job", "devices=2", "input_path=x.tif"], in: directory)
        #expect(result.status == 0)
        #expect(result.stdout.contains("gpus: 2\n") && result.stdout.contains("image_path: x.tif\n"))
        #expect(result.stdout.contains("use_fake_data: false\n"), "giving an image turns dummy data off")
        #expect(result.stdout.contains("model: fasterrcnn\n"), "the seed's default model")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("outputs").path))
    }

    @Test("--help lists the keys, the subcommands and the exit codes; each subcommand shows its own keys")
    func help() throws {
        let result = try TestSupport.run(mgpr, ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("dummy_dataset_delay=FLOAT  [0.01]"))
        #expect(result.stdout.contains("image_path=TEXT (aliases: input_path, path)"))
        #expect(result.stdout.contains("tile_size=INT (alias: patch_size)"))
        for line in ["mgpr doctor [key=value ...]", "mgpr slurm gpus=N", "mgpr merge run_dir=DIR", "EXIT CODES:",
                     "75  stopped by SIGTERM"] {
            #expect(result.stdout.contains(line), "\(line)")
        }
        #expect(!result.stdout.contains("test_image_crs="), "mgpr-test-image's keys are its own")
        #expect(result.stdout.contains("--version"))
        let testImage = try TestSupport.run(self.testImage, ["--help"])
        #expect(testImage.stdout.contains("test_image_crs=") && testImage.stdout.contains("image_size="))
        #expect(!testImage.stdout.contains("75") && !testImage.stdout.contains("rank"), "its exit codes are its own")
        #expect(!testImage.stdout.contains("batch_size=") && !testImage.stdout.contains("model="))
        let merge = try TestSupport.run(mgpr, ["merge", "--help"])
        #expect(merge.stdout.contains("run_dir=") && merge.stdout.contains("output=") && !merge.stdout.contains("batch_size="))
        let doctor = try TestSupport.run(mgpr, ["doctor", "--help"])
        #expect(doctor.stdout.contains("weights=") && doctor.stdout.contains("(raster, weights, output)"))
    }

    @Test("--cfg job shows the values a run uses, such as bn_eps derived from torchvision's COCO file name")
    func cfgShowsDerivedValues() throws {
        let result = try TestSupport.run(mgpr, ["--cfg", "job", "weights=/w/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"])
        #expect(result.stdout.contains("bn_eps: 0.0\n"), "\(result.stdout)")
        let explicit = try TestSupport.run(mgpr, ["--cfg", "job", "weights=/w/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth", "bn_eps=1e-5"])
        #expect(explicit.stdout.contains("bn_eps: 1.0e-05\n") || explicit.stdout.contains("bn_eps: 1e-05\n"), "\(explicit.stdout)")
    }

    @Test("limits are errors with their numbers, not traps or failed allocations")
    func limits() throws {
        let directory = try TestSupport.temporaryDirectory()
        let bomb = directory.appendingPathComponent("bomb.yaml")
        let levels = "abcdefgh".map(String.init)
        var yaml = "a: &a [\(Array(repeating: "\"x\"", count: 9).joined(separator: ","))]\n"
        for (previous, name) in zip(levels, levels.dropFirst()) {
            yaml += "\(name): &\(name) [\(Array(repeating: "*\(previous)", count: 9).joined(separator: ","))]\n"
        }
        try yaml.write(to: bomb, atomically: true, encoding: .utf8)
        let cases: [([String], [String: String], String)] = [
            (["model=resnet50", "tile_size=46341"], [:], "tile_size=46341: this run needs memory of about 7697.0 GB (2 batches of 16 tiles, 412.3 GB each"),
            (["tile_size=1000000000"], [:], "tile_size=1000000000: this run needs memory beyond counting"),
            (["tile_size=16384"], [:], "tile_size=16384: this run needs memory of about 104.8 GB (2 batches of 16 tiles, 51.5 GB each"),
            (["gpus=1000"], [:], "gpus=1000: on CPU each device needs a core of its own"),
            (["model=none", "dummy_dataset_count=4"], ["RANK": "5", "WORLD_SIZE": "2"], "RANK=5: must be in 0...1 with WORLD_SIZE=2"),
            (["model=none", "dummy_dataset_count=4"], ["RANK": "-1", "WORLD_SIZE": "2"], "RANK=-1: must be in 0...1 with WORLD_SIZE=2"),
            (["--config", bomb.path, "--cfg", "job"], [:], "config file \(bomb.path): expands to more than 10000 values (YAML aliases?)"),
        ]
        for (arguments, variables, message) in cases {
            var environment = ProcessInfo.processInfo.environment
            environment.merge(variables) { $1 }
            let result = try TestSupport.run(mgpr, arguments + ["run_dir=\(directory.path)/run"], in: directory, environment: environment)
            #expect(result.status == 2, "\(arguments) \(variables): \(result.stderr)")
            let errors = result.stderr.split(separator: "\n").filter { $0.contains("error:") }
            #expect(errors.count == 1 && errors[0].contains(message), "\(arguments) \(variables): \(errors)")
        }
        let huge = try TestSupport.run(testImage, ["image_size=3000000000", "image_path=\(directory.path)/huge.tif"])
        #expect(huge.status == 2 && huge.stderr.contains("image_size=3000000000: at most 2147483647 px a side"), "\(huge.stderr)")
    }

    @Test("a malformed YAML file is one error line naming the file, line and column")
    func malformedYAML() throws {
        let directory = try TestSupport.temporaryDirectory()
        let file = directory.appendingPathComponent("bad.yaml")
        try "batch_size: 4\n  tile_size: [1, \nfoo: \"bar\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try TestSupport.run(mgpr, ["--config", file.path])
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("mgpr: error: config file \(file.path): not valid YAML at 2:12"), "\(result.stderr)")
    }

    @Test("YAML that is no config (a mapping as a value, a list or mapping as a key) is one plain line, never a trap")
    func yamlShapes() throws {
        let directory = try TestSupport.temporaryDirectory()
        let file = directory.appendingPathComponent("shapes.yaml")
        for (yaml, says) in [
            ("tile_size:\n  a: 1\n", "tile_size=a mapping: expected a plain value or a list"),
            ("tile_size: [[1, 2], {a: 1}]\n", "tile_size=a list of mappings: expected a plain value or a list"),
            ("? [a]\n: 1\n", "config file \(file.path): a key that is a list or a mapping"),
            ("tile_size: {[a]: 1}\n", "config file \(file.path): a key that is a list or a mapping"),
        ] {
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            let result = try TestSupport.run(mgpr, ["--config", file.path, "--cfg", "job"])
            #expect(result.status == 2, "\(yaml): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("mgpr: error: \(says)"), "\(result.stderr)")
            #expect(!result.stderr.contains("AnyHashable"), "\(result.stderr)")
        }
    }

    @Test(
        "bad configuration gets one line naming the key and exit code 2",
        arguments: [
            (["batchsize=4"], "unknown key 'batchsize'; did you mean 'batch_size'?"),
            (["tile_size=big"], "tile_size=big: expected an integer > 0"),
            (["tile_size=0"], "tile_size=0: must be > 0"),
            (["batch_size=-2"], "batch_size=-2: must be > 0"),
            (["tile_size=256", "overlap=300"], "overlap=300: must be smaller than tile_size (256)"),
            (["precision=8"], "precision=8: valid values are 16-mixed, bf16-mixed"),
            (["bands=[0]"], "bands=[0]: every entry must be > 0"),
            (["fast"], "unexpected argument 'fast'"),
        ])
    func badConfiguration(arguments: [String], message: String) throws {
        let result = try TestSupport.run(mgpr, arguments)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("mgpr: error: ") && result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("bad input files get one line naming the file and exit code 1")
    func badFiles() throws {
        let directory = try TestSupport.temporaryDirectory()
        let text = directory.appendingPathComponent("notes.txt")
        try "not a raster".write(to: text, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["image_path=/no/such.tif"], "raster file not found: /no/such.tif"),
            (["image_path=\(text.path)"], "\(text.path) is not a raster GDAL can read"),
            (["image_path=\(try TestSupport.neonCrop)", "bands=[1,5]"],
             "bands: band 5 does not exist in \(try TestSupport.neonCrop), which has 3 bands (valid: 1...3)"),
            (["accelerator=gpu"], "accelerator=gpu but no NVIDIA GPU is usable: libcuda.so.1 (the NVIDIA driver's CUDA library) not found; tried "),
            (["accelerator=cuda"], "accelerator=cuda but no NVIDIA GPU is usable: "),
        ]
        for (arguments, message) in cases {
            let result = try TestSupport.run(mgpr, arguments + ["run_dir=\(directory.path)/run"])
            #expect(result.status == 1, "\(arguments)")
            let lastLine = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(lastLine.hasPrefix("mgpr: error: ") && lastLine.contains(message), "\(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
        }
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/run"), "a failed start leaves no run directory")
    }

    @Test("mgpr-test-image streams: past GDAL's small write cache, 4 times the pixels need no more memory")
    func testImageMemoryIsFlat() throws {
        let directory = try TestSupport.temporaryDirectory()
        func peakKB(_ size: Int) throws -> Int {
            let result = try TestSupport.run(
                "/usr/bin/time", ["-f", "peak=%M", testImage, "image_size=\(size)", "tile_size=1024", "image_path=i\(size).tif"],
                in: directory)
            try #require(result.status == 0, "\(result.stderr)")
            let line = result.stderr.split(separator: "\n").last { $0.hasPrefix("peak=") }!
            // Nearly a gigabyte, and nothing to look at when the test fails: not kept.
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("i\(size).tif"))
            return Int(line.dropFirst(5))!
        }
        let small = try peakKB(8192), large = try peakKB(16384)
        #expect(large < small + 32_000, "8192 px: \(small) KB, 16384 px: \(large) KB")
    }

    @Test("mgpr-test-image refuses a CRS GDAL does not know")
    func badCRS() throws {
        let directory = try TestSupport.temporaryDirectory()
        let result = try TestSupport.run(testImage, ["image_size=64", "test_image_crs=EPSG:999999"], in: directory)
        #expect(result.status == 2)
        #expect(result.stderr.contains("test_image_crs=EPSG:999999: not a CRS GDAL knows"))
    }
}
