/// Builds a ``Graph`` op by op, computing each value's shape as PyTorch would.
public struct GraphBuilder {
    public private(set) var graph: Graph

    public init(input: Shape4) {
        graph = Graph(input: Graph.Value(id: 0))
        graph.shapes = [input]
    }

    public func shape(of value: Graph.Value) -> Shape4 { graph.shapes[value.id] }

    private mutating func newValue(_ shape: Shape4) -> Graph.Value {
        graph.shapes.append(shape)
        return Graph.Value(id: graph.shapes.count - 1)
    }

    /// `nn.Conv2d` (square kernel, groups 1), optionally followed by frozen BatchNorm,
    /// a residual add and ReLU, in that order.
    public mutating func conv(
        _ input: Graph.Value, weight: String, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, bias: String? = nil, batchNorm: Graph.BatchNorm? = nil, residual: Graph.Value? = nil,
        relu: Bool = false
    ) -> Graph.Value {
        let s = shape(of: input)
        let extent = dilation * (kernel - 1) + 1
        let out = Shape4(
            n: s.n, c: outChannels, h: (s.h + 2 * padding - extent) / stride + 1,
            w: (s.w + 2 * padding - extent) / stride + 1)
        if let residual { precondition(shape(of: residual) == out, "residual \(shape(of: residual)) vs \(out)") }
        let output = newValue(out)
        graph.parameters[weight] = [outChannels, s.c, kernel, kernel]
        if let bias { graph.parameters[bias] = [outChannels] }
        if let bn = batchNorm {
            for suffix in ["weight", "bias", "running_mean", "running_var"] {
                graph.parameters["\(bn.prefix).\(suffix)"] = [outChannels]
            }
        }
        graph.ops.append(
            .convolution(
                Graph.Convolution(
                    input: input, output: output, weight: weight, bias: bias, batchNorm: batchNorm,
                    kernel: (kernel, kernel), stride: stride, padding: padding, dilation: dilation,
                    residual: residual, relu: relu)))
        return output
    }

    /// `nn.MaxPool2d` / `nn.AvgPool2d` (floor mode, square kernel).
    public mutating func pool(
        _ kind: Graph.PoolKind, _ input: Graph.Value, kernel: Int, stride: Int, padding: Int = 0
    ) -> Graph.Value {
        let s = shape(of: input)
        let out = Shape4(
            n: s.n, c: s.c, h: (s.h + 2 * padding - kernel) / stride + 1, w: (s.w + 2 * padding - kernel) / stride + 1)
        let output = newValue(out)
        graph.ops.append(
            .pool(Graph.Pool(kind: kind, input: input, output: output, kernel: (kernel, kernel), stride: stride, padding: padding)))
        return output
    }

    /// `nn.AdaptiveAvgPool2d((1, 1))`: the mean of each channel over the whole map.
    public mutating func globalAveragePool(_ input: Graph.Value) -> Graph.Value {
        let s = shape(of: input)
        let output = newValue(Shape4(n: s.n, c: s.c, h: 1, w: 1))
        graph.ops.append(
            .pool(Graph.Pool(kind: .average, input: input, output: output, kernel: (s.h, s.w), stride: 1, padding: 0)))
        return output
    }

    /// `nn.Linear` over the flattened input, optionally followed by ReLU.
    public mutating func linear(
        _ input: Graph.Value, weight: String, bias: String?, outFeatures: Int, relu: Bool = false
    ) -> Graph.Value {
        let s = shape(of: input)
        let output = newValue(Shape4(n: s.n, c: outFeatures, h: 1, w: 1))
        graph.parameters[weight] = [outFeatures, s.c * s.h * s.w]
        if let bias { graph.parameters[bias] = [outFeatures] }
        graph.ops.append(.linear(Graph.Linear(input: input, output: output, weight: weight, bias: bias, relu: relu)))
        return output
    }

    /// Nearest-neighbour upsampling to `factor` times the height and width.
    public mutating func upsampleNearest(_ input: Graph.Value, factor: Int) -> Graph.Value {
        let s = shape(of: input)
        let output = newValue(Shape4(n: s.n, c: s.c, h: s.h * factor, w: s.w * factor))
        graph.ops.append(.upsample(Graph.Upsample(input: input, output: output, factor: factor)))
        return output
    }

    /// `nn.GroupNorm(groups, channels, eps)` with its affine, optionally followed by ReLU.
    public mutating func groupNorm(_ input: Graph.Value, groups: Int, prefix: String, eps: Float = 1e-5, relu: Bool = false) -> Graph.Value {
        let s = shape(of: input)
        precondition(s.c % groups == 0, "GroupNorm: \(s.c) channels in \(groups) groups")
        let output = newValue(s)
        graph.parameters["\(prefix).weight"] = [s.c]
        graph.parameters["\(prefix).bias"] = [s.c]
        graph.ops.append(.groupNorm(Graph.GroupNorm(input: input, output: output, groups: groups, prefix: prefix, eps: eps, relu: relu)))
        return output
    }

    /// Bilinear resizing to `height` x `width` (`F.interpolate(size=..., mode="bilinear")`).
    public mutating func resizeBilinear(_ input: Graph.Value, height: Int, width: Int, alignCorners: Bool = false) -> Graph.Value {
        let s = shape(of: input)
        let output = newValue(Shape4(n: s.n, c: s.c, h: height, w: width))
        graph.ops.append(.resize(Graph.Resize(input: input, output: output, alignCorners: alignCorners)))
        return output
    }

    /// `torch.cat(inputs, dim=1)`; the inputs share batch, height and width.
    public mutating func concat(_ inputs: [Graph.Value]) -> Graph.Value {
        let shapes = inputs.map(shape(of:))
        precondition(!shapes.isEmpty && shapes.allSatisfy { ($0.n, $0.h, $0.w) == (shapes[0].n, shapes[0].h, shapes[0].w) },
                     "concat of \(shapes)")
        let output = newValue(Shape4(n: shapes[0].n, c: shapes.reduce(0) { $0 + $1.c }, h: shapes[0].h, w: shapes[0].w))
        graph.ops.append(.concat(Graph.Concat(inputs: inputs, output: output)))
        return output
    }

    public mutating func markOutput(_ value: Graph.Value) { graph.outputs.append(value) }
}
