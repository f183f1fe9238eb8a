import Cluster
import Configuration
import Engine
import Foundation
import Models
import Weights

/// `mgpr forward INPUT.npy OUTPUT.npy [key=value ...]`: ResNet50's logits for a float32
/// [N, 3, H, W] batch of pixels in [0, 1], on the device and precision the keys choose,
/// written as [N, classes]: the network alone, for holding each backend to PyTorch on
/// the same weights and pixels.
struct ForwardCommand {
    let input: String
    let output: String
    let config: RunConfig

    func run() throws -> Int32 {
        guard config.model == .resnet50 else {
            throw ConfigError.invalidValue(key: "model", value: config.model.rawValue, reason: "mgpr forward runs model=resnet50")
        }
        let log = Log(name: "mgpr.forward")
        let devices = try Devices.choose(config, context: RankContext.discover(ProcessInfo.processInfo.environment), log: log)
        let pixels = try NPY.read(input)
        guard pixels.shape.count == 4, pixels.shape[1] == 3 else {
            throw NPY.FormatError(path: input, reason: "shape \(pixels.shape) is not [N, 3, H, W]")
        }
        let weights = try ModelSetup.weights(config, log: log) { ResNet50.seededWeights(seed: config.seed) }
        guard let classes = ResNet50.classes(in: weights) else { throw WeightsError.missingKey(path: weights.path, key: "fc.weight") }
        let (n, h, w) = (pixels.shape[0], pixels.shape[2], pixels.shape[3])
        let chunk = min(n, config.batchSize)
        let backend = devices.backends[0]
        let graph = ResNet50.graph(batch: chunk, height: h, width: w, classes: classes)
            .normalizingInput(mean: ResNet50.preprocessing.mean, std: ResNet50.preprocessing.std)
        let plan = try backend.compile(graph, weights: weights, precision: devices.precision)
        var logits = [Float](repeating: 0, count: n * classes)
        var batch = [Float](repeating: 0, count: chunk * 3 * h * w)
        let start = Date()
        for first in stride(from: 0, to: n, by: chunk) {
            let count = min(chunk, n - first), plane = 3 * h * w
            batch.replaceSubrange(0..<(count * plane), with: pixels.values[(first * plane)..<((first + count) * plane)])
            var out = [Float](repeating: 0, count: chunk * classes)
            try out.withUnsafeMutableBufferPointer { o in
                try batch.withUnsafeBufferPointer { try plan.run(input: $0.baseAddress!, outputs: [o.baseAddress!]) }
            }
            logits.replaceSubrange((first * classes)..<((first + count) * classes), with: out[0..<(count * classes)])
        }
        try NPY.write(HostTensor(shape: [n, classes], values: logits), to: output)
        log.info(String(format: "%d images of %dx%d through resnet50 (%@) on %@ in %.3f s, logits to %@", n, h, w,
                        devices.precision.rawValue, backend.deviceName, Date().timeIntervalSince(start), output))
        return 0
    }
}
