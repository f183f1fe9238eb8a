import CPUBackend
@testable import CUDABackend
import Engine
import Foundation
import Models
import Testing
import TestSupport
import Tiling
import Weights

/// The GPU's whole Faster R-CNN against the CPU's, on every machine: the pass a GPU
/// builds (``FasterRCNNPass``) run with its kernels emulated and its networks as CPU
/// plans, against ``FasterRCNN`` on the same weights and pixels. The networks give the
/// same float32 values on both sides, so any difference is the GPU side's own steps:
/// held to the same detections, boxes within 1e-3 px and scores within 1e-5.
@Suite("The GPU detector's pass, emulated, against the CPU detector", .serialized)
struct WholeDetectorTests {
    static let fixtures = TestSupport.packageRoot.appendingPathComponent(".fixtures/fasterrcnn")

    @Test("Faster R-CNN: the NEON tile and a generated one as one pass of two, as the CPU detector finds them",
          .needsCXXCompiler)
    func fasterRCNN() throws {
        let weights = try WeightStore(contentsOf: Self.fixtures.appendingPathComponent("fasterrcnn.pth").path)
        let cpu = CPUBackend(threads: 2), settings = DetectorSettings()
        let neon = try Reference.input(Self.fixtures, case: "neon_tile", "tile")
        var noise = PixelNoiseSource(seed: 11)
        let tiles: [[Float]] = [neon, noise.tile(count: neon.count)]
        let runner = try EmulatedKernels()
        // One pass of two images: each image's share of every buffer, and a head chunk of two.
        for images in [2] {
            let input = Array(tiles.prefix(images).joined())
            let expected = try input.withUnsafeBufferPointer {
                try FasterRCNN(backend: cpu, weights: weights, precision: .f32, classes: 91, settings: settings)
                    .detect($0.baseAddress!, count: images, channels: 3, height: 400, width: 400)
            }
            let builder = EmulatedPassBuilder(runner: runner, cpu: cpu, weights: weights)
            let layout = try FasterRCNNPass.wire(builder, classes: 91, settings: settings, images: images, height: 400, width: 400)
            let found = try builder.detect(input, layout: layout)
            #expect(found.count == images)
            for (image, (f, e)) in zip(found, expected).enumerated() {
                // Something to compare: the NEON tile has real detections.
                if image == 0 { #expect(e.count >= 10, "\(e.count) detections on the NEON tile") }
                #expect(f.count == e.count, "image \(image) of \(images): \(f.count) detections, the CPU's \(e.count)")
                for (a, b) in zip(f, e) {
                    #expect(a.label == b.label, "image \(image): label \(a.label), the CPU's \(b.label)")
                    #expect(abs(a.score - b.score) <= 1e-5, "image \(image): score \(a.score), the CPU's \(b.score)")
                    let worst = max(abs(a.box.x1 - b.box.x1), abs(a.box.y1 - b.box.y1), abs(a.box.x2 - b.box.x2), abs(a.box.y2 - b.box.y2))
                    #expect(worst <= 1e-3, "image \(image): box \(a.box), the CPU's \(b.box)")
                }
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
