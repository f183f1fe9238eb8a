import Engine

/// torchvision's FeaturePyramidNetwork (`backbone.fpn.*`, 256 channels): a lateral 1x1
/// convolution per input stage, the coarser merged map upsampled (nearest, x2) and
/// added to it (the convolution's sum post-op), and a 3x3 convolution smoothing each
/// merged map. Faster R-CNN feeds it layer1...layer4, RetinaNet layer2...layer4.
public enum FeaturePyramid {
    public static let channels = 256

    /// The smoothed maps, finest first; block `i` reads `stages[i]`.
    public static func build(_ b: inout GraphBuilder, stages: [Graph.Value]) -> [Graph.Value] {
        let top = stages.count - 1
        var lastInner = b.conv(stages[top], weight: "backbone.fpn.inner_blocks.\(top).0.weight", outChannels: channels,
                               kernel: 1, bias: "backbone.fpn.inner_blocks.\(top).0.bias")
        var pyramid = [smooth(&b, lastInner, level: top)]
        for level in stride(from: top - 1, through: 0, by: -1) {
            let topDown = b.upsampleNearest(lastInner, factor: 2)
            lastInner = b.conv(stages[level], weight: "backbone.fpn.inner_blocks.\(level).0.weight", outChannels: channels,
                               kernel: 1, bias: "backbone.fpn.inner_blocks.\(level).0.bias", residual: topDown)
            pyramid.insert(smooth(&b, lastInner, level: level), at: 0)
        }
        return pyramid
    }

    private static func smooth(_ b: inout GraphBuilder, _ x: Graph.Value, level: Int) -> Graph.Value {
        b.conv(x, weight: "backbone.fpn.layer_blocks.\(level).0.weight", outChannels: channels, kernel: 3, padding: 1,
               bias: "backbone.fpn.layer_blocks.\(level).0.bias")
    }

    /// Older checkpoints' names (before the blocks became Conv2dNormActivation), renamed
    /// as torchvision renames them on load; a bare `fpn.` prefix gains `backbone.`.
    public static func modernKey(_ key: String) -> String {
        var key = key
        if key.hasPrefix("fpn.") { key = "backbone." + key }
        for block in ["inner_blocks", "layer_blocks"] {
            for suffix in ["weight", "bias"] {
                for i in 0..<4 where key == "backbone.fpn.\(block).\(i).\(suffix)" {
                    key = "backbone.fpn.\(block).\(i).0.\(suffix)"
                }
            }
        }
        return key
    }
}
