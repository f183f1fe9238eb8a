import Configuration
import Foundation
import Testing
import TestSupport

/// Real weights as users get them: torchvision's COCO files (their labels named as
/// torchvision names them) and DeepForest's models from the Hugging Face cache.
@Suite("Real weights, as users get them")
struct RealWeightsTests {
    let mgpr = TestSupport.product("mgpr")

    static let torchvision: Bool = (try? TestSupport.run(TestSupport.systemPython, ["-c", "import torchvision"]).status) == 0

    @Test("the COCO label names are torchvision's own, index for index",
          .enabled(if: torchvision, "needs Debian's python3-torchvision (scripts/test.sh installs it)"))
    func cocoNamesAreTorchvisions() throws {
        let script = """
            import json
            from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights as F, RetinaNet_ResNet50_FPN_Weights as R
            assert F.COCO_V1.meta["categories"] == R.COCO_V1.meta["categories"]
            print(json.dumps(F.COCO_V1.meta["categories"]))
            """
        let result = try TestSupport.run(TestSupport.systemPython, ["-c", script])
        try #require(result.status == 0, "\(result.stderr)")
        let names = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String]
        #expect(names == COCOWeights.categories)
    }

    @Test("weights=weecology/deepforest-tree runs the model from the Hugging Face cache, as hf download lays it out")
    func huggingFaceRepository() throws {
        let directory = try TestSupport.temporaryDirectory()
        let folder = RetinaNetCommandTests.fixtures.appendingPathComponent("deepforest_tree")
        // hf download's layout: blobs named by hash, snapshots of links to them, refs/main naming the snapshot.
        let repository = directory.appendingPathComponent("hub/models--weecology--deepforest-tree")
        let snapshot = repository.appendingPathComponent("snapshots/9f8e7d")
        try FileManager.default.createDirectory(at: repository.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: repository.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try "9f8e7d".write(to: repository.appendingPathComponent("refs/main"), atomically: true, encoding: .utf8)
        for (name, blob) in [("config.json", "c0ffee"), ("model.safetensors", "beef01")] {
            try FileManager.default.copyItem(at: folder.appendingPathComponent(name), to: repository.appendingPathComponent("blobs/\(blob)"))
            try FileManager.default.createSymbolicLink(
                atPath: snapshot.appendingPathComponent(name).path, withDestinationPath: "../../blobs/\(blob)")
        }
        var env = ProcessInfo.processInfo.environment
        env["HF_HUB_CACHE"] = directory.appendingPathComponent("hub").path
        let arguments = [
            "preset=deepforest", "image_path=\(try TestSupport.neonCrop)", "precision=32", "weights=weecology/deepforest-tree",
            "output=\(directory.path)/trees.csv", "run_dir=\(directory.path)/run",
        ]
        let result = try TestSupport.run(mgpr, arguments, in: directory, environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("weights \(snapshot.path))") && result.stderr.contains("classes Tree"), "\(result.stderr)")
        let rows = try String(contentsOfFile: "\(directory.path)/trees.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.count > 10 && rows.dropFirst().allSatisfy { $0.split(separator: ",")[4] == "Tree" }, "\(rows.prefix(3))")

        env["HF_HUB_CACHE"] = directory.appendingPathComponent("empty").path
        let missing = try TestSupport.run(mgpr, arguments + ["overwrite=true"], in: directory, environment: env)
        #expect(missing.status == 2, "\(missing.stderr)")
        #expect(missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("hf download weecology/deepforest-tree"),
                "\(missing.stderr)")
    }
}
