import Engine
import Weights

/// The convolutional part of torchvision's RetinaNet with a ResNet50-FPN backbone: the
/// body's layer2...layer4 into the feature pyramid (P3...P5), P6 and P7 by strided 3x3
/// convolutions, and the classification and regression heads, shared by all five levels.
///
/// The two variants torchvision ships differ in two places, both read from the weights:
/// `retinanet_resnet50_fpn` takes P6 from P5 and its head convolutions have biases and
/// no normalisation; `retinanet_resnet50_fpn_v2` takes P6 from C5 (2048 channels) and
/// follows each head convolution with GroupNorm(32).
public struct RetinaNetNetwork: Sendable, Equatable {
    public static let levels = 5
    /// Anchors per location: three scales (2^0, 2^(1/3), 2^(2/3)) by three aspect ratios.
    public static let anchorsPerLocation = 9
    static let headConvolutions = 4

    public var classes: Int
    /// P6 is computed from C5 (v2) rather than from P5 (v1).
    public var p6FromC5: Bool
    /// Head convolutions are followed by GroupNorm(32) (v2).
    public var groupNormHead: Bool

    public init(classes: Int, p6FromC5: Bool = false, groupNormHead: Bool = false) {
        (self.classes, self.p6FromC5, self.groupNormHead) = (classes, p6FromC5, groupNormHead)
    }

    /// The variant and the number of classes a state_dict describes, or nil (naming the
    /// missing key) when it is not a RetinaNet's.
    public static func described(by weights: WeightStore) -> Result<RetinaNetNetwork, MissingKey> {
        let logits = "head.classification_head.cls_logits.weight", p6 = "backbone.fpn.extra_blocks.p6.weight"
        guard let out = weights[logits]?.shape.first else { return .failure(MissingKey(key: logits)) }
        guard let p6In = weights[p6]?.shape.dropFirst().first else { return .failure(MissingKey(key: p6)) }
        return .success(RetinaNetNetwork(
            classes: out / anchorsPerLocation, p6FromC5: p6In != FeaturePyramid.channels,
            groupNormHead: weights["head.classification_head.conv.0.1.weight"] != nil))
    }

    public struct MissingKey: Error { public let key: String }

    /// Outputs, in order: per level the classification logits (A x classes channels)
    /// and the box regression (A x 4 channels), as the heads' last convolutions give
    /// them; with `levels`, the five pyramid levels first. `height` and `width` must be
    /// multiples of 32 (the transform pads to that).
    public func graph(batch: Int, height: Int, width: Int, bnEps: Float = 1e-5, exposingLevels: Bool = false) -> Graph {
        precondition(height % 32 == 0 && width % 32 == 0, "the detector's input is padded to multiples of 32")
        var b = GraphBuilder(input: Shape4(n: batch, c: 3, h: height, w: width))
        let stages = ResNet50.body(&b, b.graph.input, prefix: "backbone.body.", bnEps: bnEps)
        var pyramid = FeaturePyramid.build(&b, stages: Array(stages[1...]))
        let channels = FeaturePyramid.channels
        let source = p6FromC5 ? stages[3] : pyramid[2]
        func p6(relu: Bool) -> Graph.Value {
            b.conv(source, weight: "backbone.fpn.extra_blocks.p6.weight", outChannels: channels, kernel: 3, stride: 2,
                   padding: 1, bias: "backbone.fpn.extra_blocks.p6.bias", relu: relu)
        }
        // P7 reads relu(P6) while P6 itself is an output: P6 is computed twice (a 3x3
        // convolution at 1/64 of the input, small) rather than adding a ReLU op.
        pyramid.append(p6(relu: false))
        pyramid.append(b.conv(p6(relu: true), weight: "backbone.fpn.extra_blocks.p7.weight", outChannels: channels, kernel: 3,
                              stride: 2, padding: 1, bias: "backbone.fpn.extra_blocks.p7.bias"))
        if exposingLevels { for level in pyramid { b.markOutput(level) } }

        for level in pyramid {
            b.markOutput(head(&b, level, branch: "classification_head", last: "cls_logits",
                              outChannels: Self.anchorsPerLocation * classes))
            b.markOutput(head(&b, level, branch: "regression_head", last: "bbox_reg", outChannels: Self.anchorsPerLocation * 4))
        }
        return b.graph
    }

    private func head(_ b: inout GraphBuilder, _ level: Graph.Value, branch: String, last: String, outChannels: Int) -> Graph.Value {
        var x = level
        for i in 0..<Self.headConvolutions {
            let prefix = "head.\(branch).conv.\(i)"
            if groupNormHead {
                x = b.conv(x, weight: "\(prefix).0.weight", outChannels: FeaturePyramid.channels, kernel: 3, padding: 1)
                x = b.groupNorm(x, groups: 32, prefix: "\(prefix).1", relu: true)
            } else {
                x = b.conv(x, weight: "\(prefix).0.weight", outChannels: FeaturePyramid.channels, kernel: 3, padding: 1,
                           bias: "\(prefix).0.bias", relu: true)
            }
        }
        return b.conv(x, weight: "head.\(branch).\(last).weight", outChannels: outChannels, kernel: 3, padding: 1,
                      bias: "head.\(branch).\(last).bias")
    }

    /// Every parameter the network reads, with its shape (for checking a weights file).
    public var parameters: [String: [Int]] { graph(batch: 1, height: 64, width: 64).parameters }

    /// Older checkpoints' names, renamed as torchvision renames them on load: FPN blocks
    /// before Conv2dNormActivation, and head convolutions `conv.{2i}` (a Sequential of
    /// convolutions and ReLUs) that became `conv.{i}.0`.
    public static func modernKey(_ key: String) -> String {
        let key = FeaturePyramid.modernKey(key)
        for branch in ["classification_head", "regression_head"] {
            let prefix = "head.\(branch).conv."
            guard key.hasPrefix(prefix) else { continue }
            let rest = key.dropFirst(prefix.count).split(separator: ".")
            if rest.count == 2, let index = Int(rest[0]), index % 2 == 0, index < 2 * headConvolutions,
               rest[1] == "weight" || rest[1] == "bias" {
                return "\(prefix)\(index / 2).0.\(rest[1])"
            }
        }
        return key
    }
}
