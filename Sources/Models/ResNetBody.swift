import Engine
import Weights

/// The convolutional body of torchvision's ResNets (stem, layer1...layer4), with its
/// state_dict key names under a prefix: basic blocks (ResNet-18/34) or bottlenecks
/// (ResNet-50/101/152, v1.5: the stride on the 3x3 convolution), and torchvision's
/// `replace_stride_with_dilation` for the segmentation backbones. segmentation_models_pytorch's
/// ResNet encoders are this same module under `encoder.`.
public struct ResNetBody: Sendable, Equatable {
    public enum Block: Sendable, Equatable { case basic, bottleneck }

    public var block: Block
    /// Blocks in layer1...layer4: [3, 4, 6, 3] for ResNet-34 and -50, [3, 4, 23, 3] for -101.
    public var blocks: [Int]
    /// Channels of the stem's convolution's input (3 for RGB).
    public var inChannels: Int
    /// layer3 and layer4 dilated instead of strided (`replace_stride_with_dilation=[False,
    /// True, True]`): output stride 8, as torchvision's DeepLabV3 and FCN backbones.
    public var dilated: Bool

    public init(block: Block, blocks: [Int], inChannels: Int = 3, dilated: Bool = false) {
        (self.block, self.blocks, self.inChannels, self.dilated) = (block, blocks, inChannels, dilated)
    }

    public static let resnet50 = ResNetBody(block: .bottleneck, blocks: [3, 4, 6, 3])
    public static let resnet34 = ResNetBody(block: .basic, blocks: [3, 4, 6, 3])

    /// The body the weights under `prefix` hold: block kind and counts from the keys,
    /// input channels from the stem; nil when they hold no ResNet there.
    public static func read(_ weights: WeightStore, prefix: String, dilated: Bool = false) -> ResNetBody? {
        guard let stem = weights["\(prefix)conv1.weight"]?.shape, stem.count == 4 else { return nil }
        let blocks = (1...4).map { stage in
            (0...).prefix { weights["\(prefix)layer\(stage).\($0).conv1.weight"] != nil }.count
        }
        guard blocks.allSatisfy({ $0 > 0 }) else { return nil }
        let block: Block = weights["\(prefix)layer1.0.conv3.weight"] != nil ? .bottleneck : .basic
        return ResNetBody(block: block, blocks: blocks, inChannels: stem[1], dilated: dilated)
    }

    /// Output channels of layer1...layer4.
    public var stageChannels: [Int] { [64, 128, 256, 512].map { block == .bottleneck ? $0 * 4 : $0 } }

    /// What it is, for logs: "ResNet-50", "ResNet-34" (the usual depths), else its blocks.
    public var name: String {
        switch (block, blocks) {
        case (.basic, [2, 2, 2, 2]): "ResNet-18"
        case (.basic, [3, 4, 6, 3]): "ResNet-34"
        case (.bottleneck, [3, 4, 6, 3]): "ResNet-50"
        case (.bottleneck, [3, 4, 23, 3]): "ResNet-101"
        case (.bottleneck, [3, 8, 36, 3]): "ResNet-152"
        default: "ResNet (\(block == .basic ? "basic" : "bottleneck") blocks \(blocks))"
        }
    }

    /// The stem's output after its ReLU (stride 2, before the max pool) and the outputs of
    /// layer1...layer4 (strides 4, 8, 16, 32; 4, 8, 8, 8 when dilated).
    public func build(_ b: inout GraphBuilder, _ input: Graph.Value, prefix: String, bnEps: Float = 1e-5) -> (stem: Graph.Value, stages: [Graph.Value]) {
        func bn(_ name: String) -> Graph.BatchNorm { Graph.BatchNorm(prefix: prefix + name, eps: bnEps) }
        let stem = b.conv(input, weight: prefix + "conv1.weight", outChannels: 64, kernel: 7, stride: 2, padding: 3,
                          batchNorm: bn("bn1"), relu: true)
        var x = b.pool(.max, stem, kernel: 3, stride: 2, padding: 1)
        var stages: [Graph.Value] = []
        var dilation = 1
        for stage in 0..<4 {
            let planes = [64, 128, 256, 512][stage], out = stageChannels[stage]
            var stride = stage == 0 ? 1 : 2
            // torchvision's _make_layer: a dilated layer's first block keeps the dilation
            // the layer before it had; its others take the doubled one.
            let previousDilation = dilation
            if dilated && stage >= 2 {
                dilation *= stride
                stride = 1
            }
            for index in 0..<blocks[stage] {
                let key = "layer\(stage + 1).\(index)"
                let p = prefix + key
                let s = index == 0 ? stride : 1, d = index == 0 ? previousDilation : dilation
                // The shortcut after the block's first convolutions, as torchvision orders
                // them: it lives only until the last one adds it.
                let inChannels = b.shape(of: x).c
                func shortcut(_ b: inout GraphBuilder) -> Graph.Value {
                    guard s != 1 || inChannels != out else { return x }
                    return b.conv(x, weight: "\(p).downsample.0.weight", outChannels: out, kernel: 1, stride: s,
                                  batchNorm: bn("\(key).downsample.1"))
                }
                switch block {
                case .bottleneck:
                    var y = b.conv(x, weight: "\(p).conv1.weight", outChannels: planes, kernel: 1, batchNorm: bn("\(key).bn1"), relu: true)
                    y = b.conv(y, weight: "\(p).conv2.weight", outChannels: planes, kernel: 3, stride: s, padding: d, dilation: d,
                               batchNorm: bn("\(key).bn2"), relu: true)
                    let identity = shortcut(&b)
                    x = b.conv(y, weight: "\(p).conv3.weight", outChannels: out, kernel: 1, batchNorm: bn("\(key).bn3"),
                               residual: identity, relu: true)
                case .basic:
                    let y = b.conv(x, weight: "\(p).conv1.weight", outChannels: planes, kernel: 3, stride: s, padding: d, dilation: d,
                                   batchNorm: bn("\(key).bn1"), relu: true)
                    let identity = shortcut(&b)
                    x = b.conv(y, weight: "\(p).conv2.weight", outChannels: planes, kernel: 3, padding: d, dilation: d,
                               batchNorm: bn("\(key).bn2"), residual: identity, relu: true)
                }
            }
            stages.append(x)
        }
        return (stem, stages)
    }
}
