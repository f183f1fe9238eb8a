import CPUBackend
@testable import CUDABackend
import Engine
import Foundation
import Models
import Testing
import TestSupport
import Tiling
import Weights

/// The GPU's whole detectors against the CPU's, on every machine: each model's program
/// lowered as a GPU lowers it, run with its kernels emulated and its networks as CPU
/// plans (``EmulatedGPUBackend``), against the same model on the CPU backend, on the
/// same weights and pixels. The networks give the same float32 values on both sides, so
/// any difference is the GPU's own steps: held to the same detections, boxes within
/// 1e-3 px and scores within 1e-5 (a threshold 0.2 off in the final NMS fails it).
@Suite("The GPU detectors' passes, emulated, against the CPU detectors", .serialized)
struct WholeDetectorTests {
    static let fixtures = TestSupport.packageRoot.appendingPathComponent(".fixtures/fasterrcnn")
    static let retinaNetFixtures = TestSupport.packageRoot.appendingPathComponent(".fixtures/retinanet")

    /// The NEON tile (it has real detections) and a generated one, as one pass of two.
    static func tiles() throws -> [Float] {
        let neon = try Reference.input(fixtures, case: "neon_tile", "tile")
        var noise = PixelNoiseSource(seed: 11)
        return neon + noise.tile(count: neon.count)
    }

    @Test("Faster R-CNN: the NEON tile and a generated one as one pass of two, as the CPU detector finds them",
          .needsCXXCompiler)
    func fasterRCNN() throws {
        let weights = try WeightStore(contentsOf: Self.fixtures.appendingPathComponent("fasterrcnn.pth").path)
        let gpu = EmulatedGPUBackend(runner: try EmulatedKernels())
        let backends: [any Backend] = [gpu.cpu, gpu]
        let detectors = backends.map { backend -> any Detector in
            FasterRCNN(backend: backend, weights: weights, precision: .f32, classes: 91, settings: DetectorSettings())
        }
        try compare(detectors, minimum: 10)
    }

    @Test("Faster R-CNN from Byte tiles (the device scales the stored samples): what the CPU detector finds in their floats",
          .needsCXXCompiler)
    func fasterRCNNFromBytes() throws {
        let weights = try WeightStore(contentsOf: Self.fixtures.appendingPathComponent("fasterrcnn.pth").path)
        let gpu = EmulatedGPUBackend(runner: try EmulatedKernels())
        let backends: [any Backend] = [gpu.cpu, gpu]
        let detectors = backends.map { backend -> any Detector in
            FasterRCNN(backend: backend, weights: weights, precision: .f32, classes: 91, settings: DetectorSettings())
        }
        try compare(detectors, minimum: 10, storedAsBytes: true)
    }

    @Test("RetinaNet (DeepForest's one-class tree model): the same two tiles as one pass, as the CPU detector finds them",
          .needsCXXCompiler)
    func retinaNet() throws {
        var weights = try WeightStore(contentsOf: Self.retinaNetFixtures.appendingPathComponent("v1_tree.pth").path)
        weights.rename(RetinaNetNetwork.modernKey)
        let network = try RetinaNetNetwork.described(by: weights).get()
        var settings = DetectorSettings()
        settings.detectionsPerImage = 300
        let gpu = EmulatedGPUBackend(runner: try EmulatedKernels())
        let backends: [any Backend] = [gpu.cpu, gpu]
        let detectors = backends.map { backend -> any Detector in
            RetinaNet(network: network, backend: backend, weights: weights, precision: .f32, settings: settings)
        }
        try compare(detectors, minimum: 10)
    }

    /// The second detector's findings against the first's, on ``tiles()``; the first
    /// must find at least `minimum` on the NEON tile, so that there is something to compare.
    /// `storedAsBytes`: the tiles as Byte samples, given to the second as stored and to the
    /// first as the floats a reader makes of them.
    func compare(_ detectors: [any Detector], minimum: Int, storedAsBytes: Bool = false) throws {
        var input = try Self.tiles()
        var bytes: [UInt8] = []
        if storedAsBytes {
            bytes = input.map { UInt8(($0 * 255).rounded()) }
            input = bytes.map { Float($0) * (1 / 255) }
        }
        let results = try detectors.enumerated().map { k, detector in
            guard storedAsBytes, k == 1 else { return try detector.detect(HostBuffer(input), count: 2, channels: 3, height: 400, width: 400) }
            let stored = HostBuffer(count: (bytes.count + 3) / 4)
            stored.withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
            return try detector.detect(stored, pixels: .uint8(scale: 1 / 255), count: 2, channels: 3, height: 400, width: 400)
        }
        let (expected, found) = (results[0], results[1])
        #expect(found.count == 2)
        #expect(expected[0].count >= minimum, "\(expected[0].count) detections on the NEON tile")
        for (image, (f, e)) in zip(found, expected).enumerated() {
            #expect(f.count == e.count, "image \(image): \(f.count) detections, the CPU's \(e.count)")
            for (a, b) in zip(f, e) {
                #expect(a.label == b.label, "image \(image): label \(a.label), the CPU's \(b.label)")
                #expect(abs(a.score - b.score) <= 1e-5, "image \(image): score \(a.score), the CPU's \(b.score)")
                let worst = max(abs(a.box.x1 - b.box.x1), abs(a.box.y1 - b.box.y1), abs(a.box.x2 - b.box.x2), abs(a.box.y2 - b.box.y2))
                #expect(worst <= 1e-3, "image \(image): box \(a.box), the CPU's \(b.box)")
            }
        }
    }
}

/// Image-like random tiles in [0, 1], seeded.
struct PixelNoiseSource {
    var random: SplitMix
    init(seed: UInt64) { random = SplitMix(seed) }
    mutating func tile(count: Int) -> [Float] { (0..<count).map { _ in random.uniform() } }
}
