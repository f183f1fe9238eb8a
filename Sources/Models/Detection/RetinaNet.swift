import Engine
import Weights

/// torchvision's RetinaNet (ResNet50-FPN, v1 or v2) at inference, described once as a
/// ``DetectorProgram`` that every backend compiles: the transform, one network for the
/// backbone and both heads on every level, then per image and level the sigmoid scores
/// above the threshold, the best `topCandidates` of them decoded on their anchors and
/// clipped, class-wise NMS over all levels, the best `detectionsPerImage` kept and
/// resized back to the tile.
public final class RetinaNet: Detector {
    public let network: RetinaNetNetwork
    public let settings: DetectorSettings
    private let passes: DetectorPasses

    public convenience init(
        network: RetinaNetNetwork, backend: any Backend, weights: WeightStore, precision: Precision, settings: DetectorSettings
    ) {
        self.init(network: network, backend: backend, weights: WeightSupply(weights), precision: precision, settings: settings)
    }

    public init(network: RetinaNetNetwork, backend: any Backend, weights: WeightSupply, precision: Precision, settings: DetectorSettings) {
        (self.network, self.settings) = (network, settings)
        passes = DetectorPasses(backend: backend, weights: weights, precision: precision, settings: settings) { images, height, width, pixels in
            Self.program(network: network, settings: settings, images: images, height: height, width: width, pixels: pixels)
        }
    }

    public var classes: Int { network.classes }
    public var memoryBytes: Int { passes.memoryBytes }
    public var networkSeconds: Double { passes.times.network }
    public var copySeconds: Double { passes.times.copy }

    public func prepare(count: Int, height: Int, width: Int, pixels: PixelEncoding) throws {
        try passes.prepare(count: count, height: height, width: width, pixels: pixels)
    }

    public func detect(_ images: HostBuffer, pixels: PixelEncoding, count: Int, channels: Int, height: Int, width: Int) throws -> [[Detection]] {
        try passes.detect(images, pixels: pixels, count: count, channels: channels, height: height, width: width)
    }

    /// The whole detector for one pass of `n` tiles of `height` x `width`.
    public static func program(
        network: RetinaNetNetwork, settings: DetectorSettings, images n: Int, height: Int, width: Int, pixels: PixelEncoding = .float32
    ) -> DetectorProgram {
        let transform = DetectorTransform(minSize: settings.minSize, maxSize: settings.maxSize, normalization: ResNet50.preprocessing)
        let (rh, rw) = transform.resized(height: height, width: width)
        let (ph, pw) = transform.padded(height: height, width: width)
        let bounds: (width: Float, height: Float) = (Float(rw), Float(rh))
        var p = DetectorProgram(images: n, channels: 3, height: height, width: width, pixels: pixels)
        let graph = network.graph(batch: n, height: ph, width: pw, bnEps: settings.bnEps)
        let net = p.network(graph)
        let overflow = p.buffer(.int32, count: 1)
        p.append(.zero(overflow))
        p.transform(transform, into: net, height: height, width: width)
        p.run(net)

        let levels = RetinaNetNetwork.levels, k = settings.topCandidates
        let candidates = p.candidates(perImage: levels * k)
        for level in 0..<levels {
            let s = graph.shape(of: graph.outputs[2 * level])
            let cell: [Float] = Anchors.cell(sizes: Anchors.retinaNetSizes[level]).flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }
            let stride: (x: Float, y: Float) = (Float(pw / s.w), Float(ph / s.h))
            p.append(.classCandidates(.init(
                logits: net.outputs[2 * level], regression: net.outputs[2 * level + 1], anchors: RetinaNetNetwork.anchorsPerLocation,
                classes: network.classes, featureHeight: s.h, featureWidth: s.w, count: k, firstSlot: level * k,
                threshold: settings.scoreThreshold, cell: cell, stride: stride, bounds: bounds, into: candidates)))
        }
        p.finish(
            candidates, nms: settings.nmsThreshold, limit: settings.detectionsPerImage,
            scale: (Float(width) / Float(rw), Float(height) / Float(rh)), overflow: overflow)
        return p
    }
}
