import Engine
import Weights

/// U-Net as segmentation_models_pytorch builds it (`smp.Unet`, ResNet encoders), with its
/// state_dict keys: the encoder's stem and four stages give five feature maps; five
/// decoder blocks each double the size (nearest), concatenate the encoder's map of that
/// size (the last block has none), and apply two 3x3 convolutions with BatchNorm and
/// ReLU; a 3x3 convolution scores the classes at the input's size.
public struct UNet: SegmentationNetwork {
    public var encoder: ResNetBody
    /// Output channels of the five decoder blocks ((256, 128, 64, 32, 16) by default).
    public var decoderChannels: [Int]
    public var classes: Int
    public var bnEps: Float = 1e-5

    public init(encoder: ResNetBody, decoderChannels: [Int] = [256, 128, 64, 32, 16], classes: Int) {
        (self.encoder, self.decoderChannels, self.classes) = (encoder, decoderChannels, classes)
    }

    /// The network the weights describe: encoder and decoder from the keys, bands from the
    /// stem, classes from the head; nil when they hold no such U-Net.
    public static func read(_ weights: WeightStore) -> UNet? {
        guard let encoder = ResNetBody.read(weights, prefix: "encoder."),
              let classes = weights["segmentation_head.0.weight"]?.shape.first else { return nil }
        let channels = (0..<5).compactMap { weights["decoder.blocks.\($0).conv1.0.weight"]?.shape.first }
        guard channels.count == 5 else { return nil }
        return UNet(encoder: encoder, decoderChannels: channels, classes: classes)
    }

    public var inChannels: Int { encoder.inChannels }
    public var sizeMultiple: Int { 32 }

    public var description: String { "U-Net (\(encoder.name) encoder, \(classes) classes, \(inChannels) bands)" }

    public func isIgnored(_ key: String) -> Bool { key.hasSuffix(".num_batches_tracked") }

    public func graph(batch: Int, height: Int, width: Int) -> Graph {
        var b = GraphBuilder(input: Shape4(n: batch, c: encoder.inChannels, h: height, w: width))
        let (stem, stages) = encoder.build(&b, b.graph.input, prefix: "encoder.", bnEps: bnEps)
        func bn(_ p: String) -> Graph.BatchNorm { Graph.BatchNorm(prefix: p, eps: bnEps) }
        // The deepest map first; then the skips from layer3 up to the stem.
        var x = stages[3]
        let skips = [stages[2], stages[1], stages[0], stem]
        for (k, channels) in decoderChannels.enumerated() {
            x = b.upsampleNearest(x, factor: 2)
            if k < skips.count { x = b.concat([x, skips[k]]) }
            let p = "decoder.blocks.\(k)"
            x = b.conv(x, weight: "\(p).conv1.0.weight", outChannels: channels, kernel: 3, padding: 1, batchNorm: bn("\(p).conv1.1"), relu: true)
            x = b.conv(x, weight: "\(p).conv2.0.weight", outChannels: channels, kernel: 3, padding: 1, batchNorm: bn("\(p).conv2.1"), relu: true)
        }
        b.markOutput(b.conv(x, weight: "segmentation_head.0.weight", outChannels: classes, kernel: 3, padding: 1,
                            bias: "segmentation_head.0.bias"))
        return b.graph
    }
}
