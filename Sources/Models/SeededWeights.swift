import Foundation
import Tiling
import Weights

/// Weights drawn from a seed with torchvision's initialisation (Kaiming-normal
/// convolutions, unit BatchNorm, uniform linear layers, small normal detection heads
/// with zero biases), for runs without a weights
/// file: they time the network truthfully, and their results mean nothing.
public enum SeededWeights {
    public static func make(_ parameters: [String: [Int]], seed: UInt64) -> WeightStore {
        var noise = PixelNoise(seed: seed, stream: 0x5E5)
        var tensors: [String: HostTensor] = [:]
        // A fixed order: the same seed gives the same weights in every process.
        for (name, shape) in parameters.sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            var values = [Float](repeating: 0, count: count)
            let isNorm = name.contains("bn") || name.contains("downsample.1") || (shape.count == 1 && name.hasPrefix("head."))
            if isNorm && (name.hasSuffix("running_var") || name.hasSuffix(".weight")) {
                values = [Float](repeating: 1, count: count)
            } else if name == "head.classification_head.cls_logits.bias" {
                // RetinaNet's prior: every anchor starts at probability 0.01 of each class.
                values = [Float](repeating: -logf((1 - 0.01) / 0.01), count: count)
            } else if let std = detectionHeadStd(name) {
                for i in 0..<count { values[i] = Normalization.gaussian(&noise) * std }
            } else if shape.count == 4 {
                // kaiming_normal_(mode="fan_out", nonlinearity="relu"), as torchvision's ResNet.
                let std = (2 / Float(shape[0] * shape[2] * shape[3])).squareRoot()
                for i in 0..<count { values[i] = Normalization.gaussian(&noise) * std }
            } else if shape.count == 2 {
                let bound = 1 / Float(shape[1]).squareRoot()
                for i in 0..<count { values[i] = (Float(noise.next() >> 40) / Float(1 << 24) * 2 - 1) * bound }
            }
            tensors[name] = HostTensor(shape: shape, values: values)
        }
        return WeightStore(path: "(seeded)", tensors: tensors)
    }

    /// torchvision's detection heads start small (normal, zero bias): the RPN head with
    /// std 0.01, the box predictor's classifier 0.01 and its box regressor 0.001,
    /// RetinaNet's head convolutions 0.01. The box
    /// regressors here are a hundred times smaller still: seeded BatchNorm (zero mean,
    /// unit variance) lets pyramid features grow to ~50 where trained ones stay near 1,
    /// and box deltas grow with them, to where exp(dh) makes every box a sliver that no
    /// comparison can hold. So seeded boxes stay near their anchors, of sensible size.
    static func detectionHeadStd(_ name: String) -> Float? {
        guard name.hasSuffix(".weight") else { return nil }
        if name.hasPrefix("rpn.head.bbox_pred.") { return 1e-4 }
        if name.hasPrefix("rpn.head.") { return 0.01 }
        if name.hasPrefix("roi_heads.box_predictor.cls_score.") { return 0.01 }
        if name.hasPrefix("roi_heads.box_predictor.bbox_pred.") { return 1e-5 }
        if name.hasPrefix("head.regression_head.bbox_reg.") { return 1e-4 }
        if name.hasPrefix("head.") { return 0.01 }
        return nil
    }
}
