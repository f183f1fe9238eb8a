import Foundation
import Testing
import Tiling
@testable import Configuration

@Suite("Configuration")
struct ConfigurationTests {
    func config(_ arguments: String...) throws -> RunConfig { try Invocation(arguments: arguments).config }

    @Test("the defaults are the seed's")
    func seedDefaults() throws {
        let c = try config()
        #expect(c.tileSize == 1024 && c.batchSize == 16 && c.imageSize == 10000)
        #expect(c.devices == 1 && c.accelerator == .auto && c.workers == 8)
        #expect(c.precision == .f16Mixed && c.logInterval == 10 && c.profiler == nil)
        #expect(c.useFakeData && c.dummyDelay == 0.01 && c.dummyCount == 10000)
        #expect(c.model == .fasterrcnn && c.overlap == 0 && c.bands == [1, 2, 3])
    }

    @Test("the seed's aliases set the same keys", arguments: [("input_path", "image_path"), ("devices", "gpus")])
    func aliases(alias: String, key: String) throws {
        let c = try config("\(alias)=3")
        #expect(c.settings[key] == (key == "gpus" ? .int(3) : .string("3")))
    }

    @Test("values are typed as Hydra types them")
    func typedValues() throws {
        let c = try config("bands=[3,2,1]", "dummy_dataset_delay=0", "precision=32", "profiler=simple", "run_dir=/tmp/x")
        #expect(c.bands == [3, 2, 1] && c.dummyDelay == 0 && c.precision == .f32)
        #expect(c.profiler == .simple && c.runDir == "/tmp/x")
    }

    @Test("an unknown key is refused with the nearest key suggested")
    func unknownKey() {
        #expect(throws: ConfigError.unknownKey("batchsize", suggestion: "batch_size")) { try config("batchsize=4") }
        #expect(throws: ConfigError.unknownKey("tile_sizes", suggestion: "tile_size")) { try config("tile_sizes=4") }
        #expect(throws: ConfigError.unknownKey("zzzzzz", suggestion: nil)) { try config("zzzzzz=1") }
    }

    @Test("a value of the wrong type names the key, the value and what is expected")
    func wrongType() throws {
        #expect(throws: ConfigError.wrongType(key: "tile_size", value: "big", expected: "an integer > 0")) {
            try config("tile_size=big")
        }
        #expect(throws: ConfigError.wrongType(key: "use_fake_data", value: "3", expected: "true or false")) {
            try config("use_fake_data=3")
        }
        #expect(throws: ConfigError.self) { try config("bands=[1,x]") }
        #expect(throws: ConfigError.invalidValue(key: "gpu_lanes", value: "0", reason: "must be > 0")) { try config("gpu_lanes=0") }
        #expect(try config().gpuLanes == 2 && (try config("gpu_lanes=3").gpuLanes) == 3)
    }

    @Test("sizes must be positive", arguments: ["tile_size", "batch_size", "gpus", "dummy_dataset_count"])
    func positive(key: String) {
        #expect(throws: ConfigError.invalidValue(key: key, value: "0", reason: "must be > 0")) { try config("\(key)=0") }
    }

    @Test("overlap must be smaller than the tile")
    func overlapTooLarge() {
        #expect(throws: ConfigError.self) { try config("tile_size=256", "overlap=256") }
        #expect(throws: Never.self) { try config("tile_size=256", "overlap=255") }
    }

    @Test("choices list what is valid")
    func choices() {
        #expect(throws: ConfigError.invalidValue(key: "accelerator", value: "tpu", reason: "valid values are auto, cpu, gpu, cuda")) {
            try config("accelerator=tpu")
        }
    }

    @Test("an argument that is not key=value is refused")
    func malformed() {
        #expect(throws: ConfigError.malformedArgument("batch_size")) { try config("batch_size") }
        #expect(throws: ConfigError.malformedArgument("--fast")) { try config("--fast") }
        #expect(throws: ConfigError.missingArgument(option: "--config", expected: "a YAML file")) { try config("--config") }
    }

    @Test("a YAML file is applied first and key=value overrides it")
    func fileThenOverrides() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-\(UUID()).yaml")
        try "batch_size: 4\ntile_size: 512\nbands: [1]\n".write(to: file, atomically: true, encoding: .utf8)
        let c = try config("batch_size=2", "--config", file.path)
        #expect(c.batchSize == 2 && c.tileSize == 512 && c.bands == [1])
    }

    @Test("a bad config file is named in the error")
    func badFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-\(UUID()).yaml")
        try "batch_size: [unclosed\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try config("--config", file.path) }
        #expect(throws: ConfigError.configFile(path: "/nonexistent.yaml", reason: "file not found")) {
            try config("--config", "/nonexistent.yaml")
        }
        try "- a\n- b\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.configFile(path: file.path, reason: "expected a mapping of key: value lines")) {
            try config("--config", file.path)
        }
    }

    @Test("--cfg job asks for the resolved YAML, which reads back to the same configuration")
    func printedYAMLRoundTrips() throws {
        let invocation = try Invocation(arguments: ["--cfg", "job", "batch_size=3", "image_path=my file.tif"])
        #expect(invocation.action == .printConfig)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-\(UUID()).yaml")
        try invocation.config.settings.yaml.write(to: file, atomically: true, encoding: .utf8)
        let again = try config("--config", file.path)
        #expect(again.settings.values == invocation.config.settings.values)
    }

    @Test("giving an image reads it unless use_fake_data says otherwise")
    func imagePathImpliesRealData() throws {
        #expect(try config("image_path=a.tif").useFakeData == false)
        #expect(try config("image_path=a.tif", "use_fake_data=true").useFakeData == true)
        #expect(try config().useFakeData == true)
    }

    @Test("--help lists every key with its default")
    func helpListsEveryKey() {
        let text = helpText(program: "mgpr", summary: "test")
        for key in ConfigSchema.keys {
            #expect(text.contains("  \(key.name)="), "help is missing \(key.name)")
            #expect(text.contains("[\(key.defaultValue.yaml)]"))
        }
        #expect(text.contains("(aliases: input_path, path)") && text.contains("(alias: devices)") && text.contains("(alias: iou_threshold)"))
    }

    @Test("model and precision are typed when read: an unknown or unusable value is one line before anything opens")
    func modelAndPrecisionTyped() throws {
        #expect(try config("model=retinanet", "precision=bf16-mixed").model == .retinanet)
        #expect(try config("precision=bf16-mixed").precision.compute == .bf16)
        #expect(throws: ConfigError.invalidValue(key: "precision", value: "64", reason: "mgpr computes in 32 or 16 bits: use 32, bf16-mixed or 16-mixed")) {
            try config("precision=64")
        }
        #expect(throws: (any Error).self) { try config("model=yolo") }
    }

    @Test("a model's own defaults apply unless given: retinanet keeps 300 detections, as torchvision")
    func modelDefaults() throws {
        #expect(try config("model=retinanet").detectionsPerTile == 300)
        #expect(try config("model=retinanet", "detections_per_tile=50").detectionsPerTile == 50)
        #expect(try config().detectionsPerTile == 100)
        #expect(try config("model=retinanet").settings.yaml.contains("detections_per_tile: 300\n"))
    }

    @Test("preset=deepforest is DeepForest's predict_tile in one word; keys given explicitly win")
    func deepForestPreset() throws {
        let c = try config("preset=deepforest")
        #expect(c.model == .retinanet && c.tileSize == 400 && c.overlap == 20 && c.tiling == .stride)
        #expect(c.scoreThreshold == 0.1 && c.nmsThreshold == 0.05 && c.merge == .mosaic && c.mergeIoU == 0.15)
        #expect(c.detectionsPerTile == 300)
        // DeepForest computes in float32 (Lightning's 32-true), with no TF32 on a GPU.
        #expect(c.precision == .f32 && !c.tf32)
        // Its overlap is 5% of the window, whatever the window: 50 px of 1000.
        let mine = try config("preset=deepforest", "tile_size=1000", "score_threshold=0.3")
        #expect(mine.tileSize == 1000 && mine.scoreThreshold == 0.3 && mine.overlap == 50)
        #expect(try config("preset=deepforest", "overlap=7").overlap == 7)
        #expect(try config("preset=deepforest", "precision=bf16-mixed").precision == .bf16Mixed)
        #expect(throws: ConfigError.self) { try config("preset=deepforest", "model=fasterrcnn") }
        #expect(c.settings.yaml.contains("merge: mosaic\n") && c.settings.yaml.contains("tile_size: 400\n"))
    }

    @Test("DeepForest's argument names mean what they mean in DeepForest")
    func deepForestNames() throws {
        let c = try config("preset=deepforest", "path=ortho.tif", "patch_size=800", "patch_overlap=0.1", "iou_threshold=0.3",
                           "score_thresh=0.2", "nms_thresh=0.4")
        #expect(c.imagePath == "ortho.tif" && c.tileSize == 800 && c.overlap == 80)
        #expect(c.mergeIoU == 0.3 && c.scoreThreshold == 0.2 && c.nmsThreshold == 0.4)
        // floor(patch_size * patch_overlap), as slidingwindow computes it.
        #expect(try config("patch_size=333", "patch_overlap=0.05").overlap == 16)
        func message(_ arguments: String...) -> String {
            do { _ = try Invocation(arguments: arguments).config; return "" } catch { return "\(error)" }
        }
        #expect(message("overlap=0.05").contains("for a fraction of tile_size, as DeepForest's, give patch_overlap=0.05"))
        #expect(message("patch_overlap=1.5").contains("must be a fraction in [0, 1)"))
        #expect(message("overlap=20", "patch_overlap=0.05").contains("not both"))
        // A near miss of iou_threshold is no longer steered to nms_threshold (another meaning).
        #expect(message("iou_thresh=0.15").contains("did you mean 'iou_threshold'?"), "\(message("iou_thresh=0.15"))")
        #expect(message("tiling=grid").contains("valid values are spread, stride"))
    }

    @Test("label_names names the classes, a list or one name, and wins over the weights' own")
    func labelNames() throws {
        #expect(try config("label_names=[Tree, Snag]").labelNames == ["Tree", "Snag"])
        #expect(try config("label_names=Tree").labelNames == ["Tree"])
        #expect(try config().labelNames == nil)
        #expect(throws: ConfigError.self) { try config("label_names=[Tree, Tree]") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try #"{"label_dict": {"Tree": 0}}"#.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect(try config("model=retinanet", "weights=\(folder.path)").labelNames == ["Tree"])
        #expect(try config("model=retinanet", "weights=\(folder.path)", "label_names=[Arbre]").labelNames == ["Arbre"])
    }

    @Test("a weights folder's config.json gives thresholds and class names; the command line and the preset win")
    func modelFolderConfig() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let json = #"{"num_classes": 2, "nms_thresh": 0.2, "score_thresh": 0.3, "label_dict": {"Tree": 0, "Snag": 1}}"#
        try json.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let c = try config("model=retinanet", "weights=\(folder.path)")
        #expect(c.scoreThreshold == 0.3 && c.nmsThreshold == 0.2 && c.labelNames == ["Tree", "Snag"])
        #expect(try config("model=retinanet", "weights=\(folder.path)", "score_threshold=0.5").scoreThreshold == 0.5)
        #expect(try config("preset=deepforest", "weights=\(folder.path)").scoreThreshold == 0.1)

        // Each wrong value is named with its key, its value and what it should be: one plain line.
        let cases = [
            (#"{"label_dict": {"Tree": "zero"}}"#, #"label_dict['Tree'] is "zero", not a class index (an integer from 0 to 99999)"#),
            (#"{"label_dict": {"Tree": 0.5}}"#, "label_dict['Tree'] is 0.5, not a class index (an integer from 0 to 99999)"),
            (#"{"label_dict": {"Tree": 1e23}}"#, "label_dict['Tree'] is 1e+23, not a class index (an integer from 0 to 99999)"),
            (#"{"label_dict": {"Tree": true}}"#, "label_dict['Tree'] is true, not a class index (an integer from 0 to 99999)"),
            (#"{"label_dict": ["Tree"]}"#, "label_dict is a list, not an object of class names"),
            (#"{"score_thresh": "high"}"#, #"score_thresh is "high", not a number"#),
            (#"{"nms_thresh": -0.5}"#, "nms_thresh is -0.5, not a number >= 0"),
            (#"{"score_thresh": {"a": 1}}"#, "score_thresh is an object, not a number"),
        ]
        for (json, reason) in cases {
            try json.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
            #expect(throws: ConfigError.configFile(path: folder.appendingPathComponent("config.json").path, reason: reason)) {
                try config("model=retinanet", "weights=\(folder.path)")
            }
        }
        try #"{"score_thresh": null, "label_dict": {"Tree": 1.0}, "num_classes": "x"}"#
            .write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect(try config("model=retinanet", "weights=\(folder.path)").labelNames == ["0", "Tree"])
        try "{not json".write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.configFile(path: folder.appendingPathComponent("config.json").path, reason: "is not a JSON object")) {
            try config("model=retinanet", "weights=\(folder.path)")
        }
    }

    @Test("torchvision's COCO files name their labels: person, car, ... with N/A where COCO left ids unused")
    func cocoNames() throws {
        let names = try config("weights=fasterrcnn_resnet50_fpn_coco-258fb6c6.pth").labelNames
        #expect(names == COCOWeights.categories && names?.count == 91)
        #expect(names?[0] == "__background__" && names?[1] == "person" && names?[3] == "car" && names?[90] == "toothbrush")
        #expect(names?.indices.filter { names?[$0] == "N/A" } == [12, 26, 29, 30, 45, 66, 68, 69, 71, 83])
        #expect(try config("model=retinanet", "weights=retinanet_resnet50_fpn_coco-eeacb38b.pth").labelNames?[16] == "bird")
        #expect(try config("weights=mine.pth").labelNames == nil)
    }

    @Test("weights=OWNER/NAME is a Hugging Face repository found in the local cache, or one line saying how to download it")
    func huggingFaceCache() throws {
        let hub = FileManager.default.temporaryDirectory.appendingPathComponent("hub-\(UUID().uuidString)").path
        let repository = hub + "/models--weecology--deepforest-tree"
        for revision in ["0ld", "a1b2c3"] {
            try FileManager.default.createDirectory(atPath: repository + "/snapshots/" + revision, withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(atPath: repository + "/refs", withIntermediateDirectories: true)
        try "0ld".write(toFile: repository + "/refs/main", atomically: true, encoding: .utf8)
        let env = ["HF_HUB_CACHE": hub]
        #expect(try HuggingFaceCache.resolve(weights: "weecology/deepforest-tree", env: env) == repository + "/snapshots/0ld")
        #expect(HuggingFaceCache.root(["HF_HOME": "/h"]) == "/h/hub")
        #expect(HuggingFaceCache.root(["XDG_CACHE_HOME": "/x"]) == "/x/huggingface/hub")
        for path in ["model.pth", "models/tree.pth", "./a/b", "a/b/c", "/abs/x", "a/.b"] {
            #expect(try HuggingFaceCache.resolve(weights: path, env: env) == path, "a path stays a path: \(path)")
        }
        #expect {
            try HuggingFaceCache.resolve(weights: "weecology/deepforest-bird", env: env)
        } throws: { error in
            let text = "\(error)"
            return text.contains("weights=weecology/deepforest-bird") && text.contains("not in the local cache (\(hub))")
                && text.contains("hf download weecology/deepforest-bird") && !text.contains("\n")
        }
    }

    @Test("torchvision's own COCO RetinaNet and Faster R-CNN files run with BatchNorm eps 0")
    func cocoEps() throws {
        #expect(try config("model=retinanet", "weights=retinanet_resnet50_fpn_coco-eeacb38b.pth").bnEps == 0)
        #expect(try config("weights=fasterrcnn_resnet50_fpn_coco-258fb6c6.pth").bnEps == 0)
        #expect(try config("weights=mine.pth").bnEps == 1e-5)
    }

    @Test("command-line values parse like YAML scalars")
    func scalarParsing() {
        #expect(ConfigValue(parsing: "null") == .null)
        #expect(ConfigValue(parsing: "1e-3") == .double(0.001))
        #expect(ConfigValue(parsing: "'42'") == .string("42"))
        #expect(ConfigValue(parsing: "[]") == .list([]))
        #expect(ConfigValue(parsing: "nan") == .string("nan"))
    }
}
