import Engine
import Weights

/// torchvision's `deeplabv3_resnet50`/`_resnet101` and `fcn_resnet50`/`_resnet101`, with
/// their state_dict keys: a ResNet backbone whose layer3 and layer4 are dilated (output
/// stride 8), a head over layer4, and the logits resized bilinearly to the input's size
/// (`align_corners=False`). The auxiliary head over layer3 (`aux_loss=True`) only trains:
/// its keys are ignored.
public struct TorchvisionSegmentation: SegmentationNetwork {
    public enum Head: String, Sendable { case deeplabv3, fcn }

    public var head: Head
    public var backbone: ResNetBody
    public var classes: Int
    public var bnEps: Float = 1e-5

    public init(head: Head, backbone: ResNetBody, classes: Int) {
        (self.head, self.backbone, self.classes) = (head, backbone, classes)
    }

    /// The network the weights describe; nil when they hold no such head and backbone.
    public static func read(_ weights: WeightStore, head: Head) -> TorchvisionSegmentation? {
        guard let backbone = ResNetBody.read(weights, prefix: "backbone.", dilated: true),
              let classes = weights["classifier.4.weight"]?.shape.first else { return nil }
        return TorchvisionSegmentation(head: head, backbone: backbone, classes: classes)
    }

    /// The key that tells this head from the other: DeepLabV3's ASPP, or FCN's 3x3 convolution.
    public static func headKey(_ head: Head) -> String {
        head == .deeplabv3 ? "classifier.0.convs.0.0.weight" : "classifier.0.weight"
    }

    public var inChannels: Int { backbone.inChannels }
    public var sizeMultiple: Int { 1 }

    public var description: String {
        "\(head == .deeplabv3 ? "DeepLabV3" : "FCN") (\(backbone.name) backbone, \(classes) classes)"
    }

    public func isIgnored(_ key: String) -> Bool { key.hasPrefix("aux_classifier.") || key.hasSuffix(".num_batches_tracked") }

    /// ASPP's atrous rates, as torchvision's DeepLabHead sets them.
    static let rates = [12, 24, 36]

    public func graph(batch: Int, height: Int, width: Int) -> Graph {
        var b = GraphBuilder(input: Shape4(n: batch, c: backbone.inChannels, h: height, w: width))
        let features = backbone.build(&b, b.graph.input, prefix: "backbone.", bnEps: bnEps).stages[3]
        func bn(_ p: String) -> Graph.BatchNorm { Graph.BatchNorm(prefix: p, eps: bnEps) }
        var x: Graph.Value
        switch head {
        case .deeplabv3:
            // ASPP: a 1x1 branch, three dilated 3x3 branches, and the image's mean
            // broadcast back over it; concatenated and projected to 256 channels.
            var branches = [b.conv(features, weight: "classifier.0.convs.0.0.weight", outChannels: 256, kernel: 1,
                                   batchNorm: bn("classifier.0.convs.0.1"), relu: true)]
            for (k, rate) in Self.rates.enumerated() {
                branches.append(b.conv(features, weight: "classifier.0.convs.\(k + 1).0.weight", outChannels: 256, kernel: 3,
                                       padding: rate, dilation: rate, batchNorm: bn("classifier.0.convs.\(k + 1).1"), relu: true))
            }
            let pooled = b.conv(b.globalAveragePool(features), weight: "classifier.0.convs.4.1.weight", outChannels: 256, kernel: 1,
                                batchNorm: bn("classifier.0.convs.4.2"), relu: true)
            let size = b.shape(of: features)
            branches.append(b.resizeBilinear(pooled, height: size.h, width: size.w))
            x = b.conv(b.concat(branches), weight: "classifier.0.project.0.weight", outChannels: 256, kernel: 1,
                       batchNorm: bn("classifier.0.project.1"), relu: true)
            x = b.conv(x, weight: "classifier.1.weight", outChannels: 256, kernel: 3, padding: 1, batchNorm: bn("classifier.2"), relu: true)
        case .fcn:
            let inner = b.shape(of: features).c / 4
            x = b.conv(features, weight: "classifier.0.weight", outChannels: inner, kernel: 3, padding: 1,
                       batchNorm: bn("classifier.1"), relu: true)
        }
        x = b.conv(x, weight: "classifier.4.weight", outChannels: classes, kernel: 1, bias: "classifier.4.bias")
        b.markOutput(b.resizeBilinear(x, height: height, width: width))
        return b.graph
    }
}
