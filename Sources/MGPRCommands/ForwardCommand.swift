import Cluster
import Configuration
import Engine
import Foundation
import Models
import Weights

/// `mgpr forward INPUT.npy OUTPUT.npy [key=value ...]`: for a float32 [N, 3, H, W] batch
/// of pixels in [0, 1], on the device and precision the keys choose, ResNet50's logits
/// ([N, classes]), a detector's (Faster R-CNN's, RetinaNet's) detections ([N,
/// detections_per_tile, 6]) or a segmentation's logits ([N, classes, H, W], any bands): the model
/// alone, for holding each backend to PyTorch and to each other on the same weights
/// and pixels. The weights load and are checked as a run loads them.
struct ForwardCommand {
    let input: String
    let output: String
    let config: RunConfig

    func run() throws -> Int32 {
        guard config.model != .none else {
            throw ConfigError.invalidValue(
                key: "model", value: config.model.rawValue, reason: "mgpr forward runs a model: resnet50, a detector or a segmentation")
        }
        let log = Log(name: "mgpr.forward")
        let devices = try Devices.choose(config, context: RankContext.discover(ProcessInfo.processInfo.environment), log: log)
        let pixels = try NPY.read(input)
        if config.model.task == .segmentation { return try segment(pixels, devices: devices, log: log) }
        guard pixels.shape.count == 4, pixels.shape[1] == 3 else {
            throw NPY.FormatError(path: input, reason: "shape \(pixels.shape) is not [N, 3, H, W]")
        }
        if config.model != .resnet50 { return try detect(pixels, devices: devices, log: log) }
        let (weights, classes) = try { ($0.weights, $0.classes) }(ResNet50Architecture.load(config, log: log))
        let (n, h, w) = (pixels.shape[0], pixels.shape[2], pixels.shape[3])
        let chunk = min(n, config.batchSize)
        let backend = devices.backends[0]
        let graph = ResNet50.graph(batch: chunk, height: h, width: w, classes: classes)
            .normalizingInput(mean: ResNet50.preprocessing.mean, std: ResNet50.preprocessing.std)
        let plan = try backend.compile(graph, weights: weights, precision: devices.precision)
        var logits = [Float](repeating: 0, count: n * classes)
        let batch = HostBuffer([Float](repeating: 0, count: chunk * 3 * h * w)), out = HostBuffer(count: chunk * classes)
        let start = Date()
        for first in stride(from: 0, to: n, by: chunk) {
            let count = min(chunk, n - first), plane = 3 * h * w
            batch.withUnsafeMutableBufferPointer { b in
                _ = b.update(fromContentsOf: pixels.values[(first * plane)..<((first + count) * plane)])
            }
            try plan.run(input: batch, outputs: [out])
            logits.replaceSubrange((first * classes)..<((first + count) * classes), with: out.array[0..<(count * classes)])
        }
        try NPY.write(HostTensor(shape: [n, classes], values: logits), to: output)
        log.info(String(format: "%d images of %dx%d through resnet50 (%@) on %@ in %.3f s, logits to %@", n, h, w,
                        devices.precision.rawValue, backend.deviceName, Date().timeIntervalSince(start), output))
        return 0
    }

    /// A segmentation's logits at the input's size, [N, classes, H, W], normalised by
    /// `mean`/`std` (ImageNet's for three bands) as a run does.
    private func segment(_ pixels: HostTensor, devices: Devices, log: Log) throws -> Int32 {
        guard let architecture = config.model.architecture as? any SegmentationArchitecture.Type else {
            preconditionFailure("\(config.model) is a segmentation")
        }
        let loaded = try architecture.load(config, log: log)
        let network = loaded.network
        guard pixels.shape.count == 4, pixels.shape[1] == network.inChannels else {
            throw NPY.FormatError(path: input, reason: "shape \(pixels.shape) is not [N, \(network.inChannels), H, W]")
        }
        let (n, c, h, w) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3])
        let normalization = try architecture.normalization(config, bands: c)
        let chunk = min(n, config.batchSize), backend = devices.backends[0]
        let graph = network.graph(batch: chunk, height: h, width: w).normalizingInput(mean: normalization.mean, std: normalization.std)
        let plan = try backend.compile(graph, weights: loaded.weights, precision: devices.precision)
        let perImage = network.classes * h * w, plane = c * h * w
        var logits = [Float](repeating: 0, count: n * perImage)
        let batch = HostBuffer(count: chunk * plane), out = HostBuffer(count: chunk * perImage)
        let start = Date()
        for first in stride(from: 0, to: n, by: chunk) {
            let count = min(chunk, n - first)
            batch.withUnsafeMutableBufferPointer { b in
                _ = b.update(fromContentsOf: pixels.values[(first * plane)..<((first + count) * plane)])
            }
            try plan.run(input: batch, outputs: [out])
            logits.replaceSubrange((first * perImage)..<((first + count) * perImage), with: out.array[0..<(count * perImage)])
        }
        try NPY.write(HostTensor(shape: [n, network.classes, h, w], values: logits), to: output)
        log.info(String(format: "%d images of %dx%d through %@ (%@) on %@ in %.3f s, logits to %@", n, h, w, network.description,
                        devices.precision.rawValue, backend.deviceName, Date().timeIntervalSince(start), output))
        return 0
    }

    /// A detector's detections per image as [N, detections_per_tile, 6] rows of (x1, y1,
    /// x2, y2, score, label) in the image's pixels, best first; rows past an image's
    /// detections are -1. Beside them for Faster R-CNN (`levelsPath`), the first image's
    /// five FPN levels as the backbone computes them in this precision, for holding
    /// 16-bit pyramids to float32 ones.
    private func detect(_ pixels: HostTensor, devices: Devices, log: Log) throws -> Int32 {
        let (n, h, w) = (pixels.shape[0], pixels.shape[2], pixels.shape[3])
        let chunk = min(n, config.batchSize), limit = config.detectionsPerTile
        let backend = devices.backends[0], precision = devices.precision
        let detector: any Detector
        var fasterRCNNWeights: WeightStore?
        if config.model == .retinanet {
            let loaded = try RetinaNetArchitecture.load(config, log: log)
            detector = RetinaNetArchitecture.detector(
                config, backend: backend, network: loaded.network, weights: WeightSupply(loaded.weights), precision: precision)
        } else {
            let loaded = try FasterRCNNArchitecture.load(config, log: log)
            detector = FasterRCNNArchitecture.detector(
                config, backend: backend, classes: loaded.classes, weights: WeightSupply(loaded.weights), precision: precision)
            fasterRCNNWeights = loaded.weights
        }
        var rows = [Float](repeating: -1, count: n * limit * 6)
        let start = Date()
        var found = 0
        let batch = HostBuffer(count: chunk * 3 * h * w)
        for first in stride(from: 0, to: n, by: chunk) {
            let count = min(chunk, n - first), plane = 3 * h * w
            batch.withUnsafeMutableBufferPointer { b in
                _ = b.update(fromContentsOf: pixels.values[(first * plane)..<((first + count) * plane)])
            }
            let detections = try detector.detect(batch, count: count, channels: 3, height: h, width: w)
            for (i, image) in detections.enumerated() {
                for (j, d) in image.prefix(limit).enumerated() {
                    let at = ((first + i) * limit + j) * 6
                    rows.replaceSubrange(at..<(at + 6), with: [d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.score, Float(d.label)])
                    found += 1
                }
            }
        }
        try NPY.write(HostTensor(shape: [n, limit, 6], values: rows), to: output)
        if let weights = fasterRCNNWeights {
            let levels = try pyramid(of: pixels, backend: backend, precision: precision, weights: weights, settings: DetectorSettings(config))
            try NPY.write(HostTensor(shape: [levels.count], values: levels), to: Self.levelsPath(output))
        }
        log.info(String(format: "%d images of %dx%d through %@ (%@) on %@ in %.3f s: %d detections to %@", n, h, w,
                        config.model.rawValue, precision.rawValue, backend.deviceName, Date().timeIntervalSince(start), found, output))
        return 0
    }

    /// OUT.npy -> OUT.levels.npy
    static func levelsPath(_ output: String) -> String {
        (output.hasSuffix(".npy") ? String(output.dropLast(4)) : output) + ".levels.npy"
    }

    /// The first image's FPN levels (P2 to P6, each NCHW float32), one after the other.
    private func pyramid(
        of pixels: HostTensor, backend: any Backend, precision: Precision, weights: WeightStore, settings: DetectorSettings
    ) throws -> [Float] {
        let (h, w) = (pixels.shape[2], pixels.shape[3])
        let transform = DetectorTransform(minSize: settings.minSize, maxSize: settings.maxSize, normalization: ResNet50.preprocessing)
        let (ph, pw) = transform.padded(height: h, width: w)
        let input = HostBuffer(count: 3 * ph * pw)
        pixels.values.withUnsafeBufferPointer { src in
            input.withUnsafeMutableBufferPointer { transform.apply(src, channels: 3, height: h, width: w, into: $0) }
        }
        let plan = try backend.compile(
            FasterRCNNBackbone.graph(batch: 1, height: ph, width: pw, bnEps: settings.bnEps), weights: weights, precision: precision)
        let outputs = plan.outputShapes.map { HostBuffer(count: $0.count) }
        try plan.run(input: input, outputs: outputs)
        return outputs.prefix(5).flatMap(\.array)
    }
}
