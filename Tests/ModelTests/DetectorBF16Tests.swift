import CPUBackend
import Engine
import Foundation
@testable import Models
import Testing
import TestSupport
import Weights

/// The detectors in bf16-mixed against torchvision's float64 on the NEON crop, held to
/// how far PyTorch's own bf16 autocast moves the same weights on the same tile
/// (reference/make_bf16_detections.py, which records autocast's figures):
/// - network outputs (pyramid levels, the heads' raw outputs): the median of |bf16 -
///   float64| over the output's largest |float64| at most 1.1 x autocast's;
/// - detections, matched as that script does: missed and extra ones, summed over the four
///   detectors, at most autocast's sum plus three binomial standard deviations of it. The
///   seeded test networks are tuned on a cancellation (their classifiers' last layers) so
///   that float32 separates scores finely; bf16's rounding reshuffles which
///   near-threshold boxes survive, for autocast too (it misses 53-89 of them per
///   detector). Per detector that is a coin toss: moving mgpr's residual sums from
///   float32 to bf16 moved every continuous error above by about 1% and the four missed
///   counts by -3, -14, +4 and +7. So counts are held to within their noise, summed; a
///   broken bf16 path, losing all of them, is far outside it.
@Suite("Detectors in bf16 stay as close to float64 as PyTorch's autocast", .serialized)
struct DetectorBF16Tests {
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures") }

    struct Figures {
        var missed = 0, extra = 0, matched = 0
        var boxError = 0.0, scoreError = 0.0

        init(_ recorded: [String: Any]) {
            (missed, extra, matched) = (recorded["missed"] as! Int, recorded["extra"] as! Int, recorded["matched"] as! Int)
            (boxError, scoreError) = (recorded["box_error"] as! Double, recorded["score_error"] as! Double)
        }

        /// The binomial variance of a count `k` of `total` (at least 1).
        static func variance(_ k: Int, of total: Int) -> Double {
            let p = min(1, Double(k) / Double(total))
            return max(1, Double(total) * p * (1 - p))
        }

        /// As make_bf16_detections.py's match: float64 detections by descending score each
        /// take the untaken found detection of their label with the highest IoU, if >= 0.5.
        init(found: [Detection], expected: [Detection]) {
            var taken = [Bool](repeating: false, count: found.count)
            var boxErrors: [Double] = [], scoreErrors: [Double] = []
            for e in expected.sorted(by: { $0.score > $1.score }) {
                var best: Int?, bestIoU: Float = 0.5
                for (j, f) in found.enumerated() where !taken[j] && f.label == e.label {
                    let overlap = f.box.iou(e.box)
                    if overlap >= bestIoU && (best == nil || overlap > bestIoU) { (best, bestIoU) = (j, overlap) }
                }
                guard let best else { missed += 1; continue }
                taken[best] = true
                boxErrors.append(1 - Double(bestIoU))
                scoreErrors.append(abs(Double(found[best].score) - Double(e.score)))
            }
            (extra, matched) = (taken.filter { !$0 }.count, boxErrors.count)
            (boxError, scoreError) = (Self.median(boxErrors), Self.median(scoreErrors))
        }

        static func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return .infinity }
            let mid = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        }
    }

    static func recorded() throws -> [[String: Any]] {
        let url = fixtures.appendingPathComponent("bf16_detections/manifest.json")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return manifest["cases"] as! [[String: Any]]
    }

    /// The detector of a case, in bf16, with the settings its reference ran with.
    static func detector(_ name: String) throws -> any Detector {
        let backend = CPUBackend(threads: 2)
        if name == "fasterrcnn" {
            let weights = try WeightStore(contentsOf: fixtures.appendingPathComponent("fasterrcnn/fasterrcnn.pth").path)
            return FasterRCNN(backend: backend, weights: weights, precision: .bf16, classes: 91, settings: DetectorSettings())
        }
        let model = String(name.dropFirst("retinanet_".count))
        let (weights, network) = try RetinaNetTests.weights("\(model).pth")
        let reference = try RetinaNetTests.manifestCase("\(model).neon_tile")
        var settings = DetectorSettings()
        settings.scoreThreshold = Float(reference["score_thresh"] as! Double)
        settings.nmsThreshold = Float(reference["nms_thresh"] as! Double)
        settings.detectionsPerImage = reference["detections_per_img"] as! Int
        return RetinaNet(network: network, backend: backend, weights: weights, precision: .bf16, settings: settings)
    }

    static func entry(_ name: String) throws -> [String: Any] {
        try #require(try recorded().first { $0["name"] as? String == name }, "no case \(name)")
    }

    @Test("network outputs: median errors at most 1.1 x autocast's", .needsNativeBF16,
          arguments: ["fasterrcnn", "retinanet_v1_91", "retinanet_v2_91", "retinanet_v1_tree"])
    func networkOutputs(name: String) throws {
        let entry = try Self.entry(name)
        let bar = entry["torch_bf16_median_relative_error"] as! [String: Double]
        let directory = Self.fixtures.appendingPathComponent(entry["fixture"] as! String)
        let outputs: [(String, [Float])]
        if name == "fasterrcnn" {
            let (values, names) = try FasterRCNNBackboneTests().run(weightsFile: "fasterrcnn.pth", precision: .bf16)
            outputs = Array(zip(names, values))
        } else {
            let (weights, network) = try RetinaNetTests.weights("\(name.dropFirst("retinanet_".count)).pth")
            let graph = network.graph(batch: 1, height: 800, width: 800, exposingLevels: true)
            let plan = try CPUBackend(threads: 2).compile(graph, weights: weights, precision: .bf16)
            let buffers = plan.outputShapes.map { HostBuffer(count: $0.count) }
            try plan.run(input: HostBuffer(try Reference.input(directory, case: entry["case"] as! String, "input")), outputs: buffers)
            let names = (0..<5).map { "level\($0)" } + (0..<5).flatMap { ["logits\($0)", "regression\($0)"] }
            outputs = Array(zip(names, buffers.map(\.array)))
        }
        try #require(outputs.count == 15 && Set(outputs.map(\.0)) == Set(bar.keys), "\(name): outputs \(outputs.map(\.0))")
        for (key, output) in outputs {
            let reference = try Reference.array(directory, case: entry["case"] as! String, key)
            try #require(output.count == reference.count, "\(name) \(key): \(output.count) values, torchvision \(reference.count)")
            let scale = reference.map(abs).max()!
            let errors = zip(output, reference).map { abs(Double($0) - $1) / scale }.sorted()
            let median = errors[errors.count / 2]
            #expect(scale > 0 && median <= 1.1 * bar[key]!, "\(name) \(key): median error \(median), PyTorch's bf16 \(bar[key]!)")
        }
    }

    @Test("detections: missed and extra ones, over the four detectors, within a count's noise of autocast's", .needsNativeBF16)
    func detections() throws {
        var report: [String] = []
        var mine = (missed: 0, extra: 0), theirs = (missed: 0, extra: 0), variance = (missed: 0.0, extra: 0.0)
        for name in ["fasterrcnn", "retinanet_v1_91", "retinanet_v2_91", "retinanet_v1_tree"] {
            let entry = try Self.entry(name)
            let (folder, tileCase) = (entry["fixture"] as! String, entry["case"] as! String)
            let directory = Self.fixtures.appendingPathComponent(folder)
            let tile = try Reference.input(directory, case: tileCase, "tile")
            let expected = try FasterRCNNTests.expected(fixtures: directory, case: tileCase)[0]
            try #require(expected.count >= 20, "\(name): the float64 reference should hold many detections, has \(expected.count)")
            let found = try Self.detector(name).detect(HostBuffer(tile), count: 1, channels: 3, height: 400, width: 400)[0]
            let ours = Figures(found: found, expected: expected), torch = Figures(entry["torch_bf16"] as! [String: Any])
            report.append("\(name), of \(expected.count): mgpr bf16 \(ours); PyTorch's autocast \(torch)")
            #expect(ours.matched > 0, "\(name): nothing found")
            mine = (mine.missed + ours.missed, mine.extra + ours.extra)
            theirs = (theirs.missed + torch.missed, theirs.extra + torch.extra)
            variance.missed += Figures.variance(torch.missed, of: expected.count)
            variance.extra += Figures.variance(torch.extra, of: max(expected.count, torch.extra))
        }
        let text = report.joined(separator: "\n")
        #expect(Double(mine.missed) <= Double(theirs.missed) + 3 * variance.missed.squareRoot(), "missed:\n\(text)")
        #expect(Double(mine.extra) <= Double(theirs.extra) + 3 * variance.extra.squareRoot(), "extra:\n\(text)")
    }
}
