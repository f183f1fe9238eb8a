import Foundation
import Testing
import TestSupport
import Weights

/// Class names from the checkpoints that carry them, written by torch itself: DeepForest's
/// `.ckpt` (label_dict at the top, its config's label_dict None), a Lightning module's
/// hyper_parameters; nothing from files that do not name their classes.
@Suite("Checkpoint labels")
struct CheckpointLabelsTests {
    /// Saves `expression` (a Python dict around a one-tensor state_dict) with torch.save.
    func save(_ expression: String, as name: String) throws -> String {
        let path = try TestSupport.temporaryDirectory().appendingPathComponent(name).path
        let script = "import sys, torch\nstate = {'model.w': torch.zeros(2)}\ntorch.save(\(expression), sys.argv[1])\n"
        let result = try TestSupport.run(TestSupport.systemPython, ["-c", script, path])
        try #require(result.status == 0, "\(result.stderr)")
        return path
    }

    @Test("DeepForest's .ckpt names its classes at the top level, in index order")
    func deepForestCheckpoint() throws {
        let path = try save("""
            {'state_dict': state, 'epoch': 1, 'label_dict': {'Snag': 1, 'Tree': 0}, 'numeric_to_label_dict': {0: 'Tree', 1: 'Snag'},
             'hyper_parameters': {'config': {'num_classes': 2, 'label_dict': None, 'nms_thresh': 0.05}}}
            """.replacingOccurrences(of: "\n", with: " "), as: "deepforest.ckpt")
        #expect(CheckpointLabels.names(in: path) == ["Tree", "Snag"])
    }

    @Test("a Lightning module's hyper_parameters, or their config, name them when the top level does not")
    func hyperParameters() throws {
        let direct = try save("{'state_dict': state, 'hyper_parameters': {'label_dict': {'Bird': 0}}}", as: "direct.ckpt")
        #expect(CheckpointLabels.names(in: direct) == ["Bird"])
        let nested = try save("{'state_dict': state, 'hyper_parameters': {'config': {'label_dict': {'Alive': 0, 'Dead': 1}}}}", as: "nested.ckpt")
        #expect(CheckpointLabels.names(in: nested) == ["Alive", "Dead"])
    }

    @Test("no names from a plain state_dict, a label_dict that skips or repeats an index, or a file that is not a checkpoint")
    func none() throws {
        #expect(CheckpointLabels.names(in: try save("state", as: "plain.pth")) == nil)
        #expect(CheckpointLabels.names(in: try save("{'state_dict': state, 'label_dict': {'A': 0, 'B': 2}}", as: "gap.ckpt")) == nil)
        #expect(CheckpointLabels.names(in: try save("{'state_dict': state, 'label_dict': {'A': 0, 'B': 0}}", as: "twice.ckpt")) == nil)
        let text = try TestSupport.temporaryDirectory().appendingPathComponent("notes.ckpt")
        try "not a zip".write(to: text, atomically: true, encoding: .utf8)
        #expect(CheckpointLabels.names(in: text.path) == nil)
        #expect(CheckpointLabels.names(in: "/nonexistent/model.ckpt") == nil)
    }
}
