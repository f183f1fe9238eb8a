import Engine
import Weights

/// The convolutional part of torchvision's `fasterrcnn_resnet50_fpn` (v1): the ResNet50
/// body (`backbone.body.*`), the feature pyramid (`backbone.fpn.*`, 256 channels, levels
/// '0'...'3' and 'pool'), and the RPN head (`rpn.head.*`) run on every level.
/// The detection steps with data-dependent sizes (proposals, RoIAlign, NMS) build on it.
public enum FasterRCNNBackbone {
    public static let channels = FeaturePyramid.channels
    /// Anchors per location: one size per level, aspect ratios 0.5, 1, 2.
    public static let anchorsPerLocation = 3

    /// Outputs, in order: the five pyramid levels, then per level the RPN objectness
    /// logits (A channels) and box deltas (4A channels), as torchvision's RPNHead.
    /// `height` and `width` must be multiples of 32 (the transform pads to that).
    public static func graph(batch: Int, height: Int, width: Int, bnEps: Float = 1e-5) -> Graph {
        precondition(height % 32 == 0 && width % 32 == 0, "the detector's input is padded to multiples of 32")
        var b = GraphBuilder(input: Shape4(n: batch, c: 3, h: height, w: width))
        let stages = ResNet50.body(&b, b.graph.input, prefix: "backbone.body.", bnEps: bnEps)

        var pyramid = FeaturePyramid.build(&b, stages: stages)
        pyramid.append(b.pool(.max, pyramid[3], kernel: 1, stride: 2))  // LastLevelMaxPool: 'pool'
        for level in pyramid { b.markOutput(level) }

        let a = anchorsPerLocation
        for level in pyramid {
            let t = b.conv(level, weight: "rpn.head.conv.0.0.weight", outChannels: channels, kernel: 3, padding: 1,
                           bias: "rpn.head.conv.0.0.bias", relu: true)
            b.markOutput(b.conv(t, weight: "rpn.head.cls_logits.weight", outChannels: a, kernel: 1, bias: "rpn.head.cls_logits.bias"))
            b.markOutput(b.conv(t, weight: "rpn.head.bbox_pred.weight", outChannels: 4 * a, kernel: 1, bias: "rpn.head.bbox_pred.bias"))
        }
        return b.graph
    }

    /// Older checkpoints' key names, renamed as torchvision renames them on load
    /// (FPN and RPN head blocks before they became Conv2dNormActivation).
    public static func modernKey(_ key: String) -> String {
        var key = FeaturePyramid.modernKey(key)
        for suffix in ["weight", "bias"] where key == "rpn.head.conv.\(suffix)" { key = "rpn.head.conv.0.0.\(suffix)" }
        return key
    }
}
