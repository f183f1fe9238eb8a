import Weights

/// Folds frozen BatchNorm into the convolution before it:
/// w' = w * gamma / sqrt(var + eps), b' = beta + (b - mean) * gamma / sqrt(var + eps).
public enum BatchNormFolding {
    public static func fold(
        weight: [Float], bias: [Float]?, outChannels: Int, batchNorm: Graph.BatchNorm?, weights: WeightStore
    ) -> (weight: [Float], bias: [Float]) {
        var w = weight
        var b = bias ?? [Float](repeating: 0, count: outChannels)
        guard let bn = batchNorm else { return (w, b) }
        let gamma = weights["\(bn.prefix).weight"]!.values, beta = weights["\(bn.prefix).bias"]!.values
        let mean = weights["\(bn.prefix).running_mean"]!.values, variance = weights["\(bn.prefix).running_var"]!.values
        let perChannel = w.count / outChannels
        for o in 0..<outChannels {
            // In double: eps may be 0 and variances tiny; the product is rounded once.
            let scale = Double(gamma[o]) / (Double(variance[o]) + Double(bn.eps)).squareRoot()
            for i in (o * perChannel)..<((o + 1) * perChannel) { w[i] = Float(Double(w[i]) * scale) }
            b[o] = Float(Double(beta[o]) + (Double(b[o]) - Double(mean[o])) * scale)
        }
        return (w, b)
    }
}
