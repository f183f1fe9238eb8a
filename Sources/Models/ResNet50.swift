import Engine
import Tiling
import Weights

/// torchvision's `resnet50` (v1.5: the stride of each downsampling block is on its 3x3
/// convolution), with torchvision's state_dict key names, on inputs of any size.
/// Inputs are RGB in [0, 1], normalised with ImageNet's mean and std (``preprocessing``).
public enum ResNet50 {
    /// torchvision's ImageNet normalisation: (x - mean) / std per channel.
    public static let preprocessing = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// The number of classes the weights were trained for (`fc.weight` is [classes, 2048]).
    public static func classes(in weights: WeightStore) -> Int? { weights["fc.weight"]?.shape.first }

    public static func graph(batch: Int, height: Int, width: Int, classes: Int, bnEps: Float = 1e-5) -> Graph {
        var b = GraphBuilder(input: Shape4(n: batch, c: 3, h: height, w: width))
        let x = body(&b, b.graph.input, prefix: "", bnEps: bnEps).last!
        let pooled = b.globalAveragePool(x)
        let logits = b.linear(pooled, weight: "fc.weight", bias: "fc.bias", outFeatures: classes)
        b.markOutput(logits)
        return b.graph
    }

    /// The convolutional body (stem and layer1...layer4), keys under `prefix`; returns
    /// the outputs of layer1...layer4 (strides 4, 8, 16, 32), as torchvision's
    /// IntermediateLayerGetter gives them to a feature pyramid.
    public static func body(_ b: inout GraphBuilder, _ input: Graph.Value, prefix: String, bnEps: Float) -> [Graph.Value] {
        ResNetBody.resnet50.build(&b, input, prefix: prefix, bnEps: bnEps).stages
    }

    /// BatchNorm buffers torchvision keeps but inference does not read.
    public static func isIgnored(_ key: String) -> Bool { key.hasSuffix(".num_batches_tracked") }

    /// Seeded weights with torchvision's initialisation, for timing runs without a file.
    public static func seededWeights(classes: Int = 1000, seed: UInt64) -> WeightStore {
        SeededWeights.make(graph(batch: 1, height: 64, width: 64, classes: classes).parameters, seed: seed)
    }
}
