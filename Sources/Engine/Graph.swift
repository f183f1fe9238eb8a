/// A network as a small static graph: a list of ops over values of known shapes, built
/// once for one (batch, height, width). Parameters are named by their PyTorch keys; a
/// backend fetches, folds and packs them when it compiles the graph into a ``Plan``.
public struct Graph: Sendable {
    public struct Value: Hashable, Sendable { public let id: Int }

    /// Frozen BatchNorm after a convolution, folded into it when weights load.
    public struct BatchNorm: Sendable {
        /// Key prefix: `<prefix>.weight`, `.bias`, `.running_mean`, `.running_var`.
        public var prefix: String
        public var eps: Float
        public init(prefix: String, eps: Float) { (self.prefix, self.eps) = (prefix, eps) }
    }

    public struct Convolution: Sendable {
        public var input: Value
        public var output: Value
        public var weight: String
        /// The convolution's own bias key, if it has one.
        public var bias: String?
        public var batchNorm: BatchNorm?
        public var kernel: (h: Int, w: Int)
        public var stride: Int
        public var padding: Int
        public var dilation: Int
        /// A value added to the result before the activation (a residual connection).
        /// The output takes its place: it must not be used after this op.
        public var residual: Value?
        public var relu: Bool
    }

    public enum PoolKind: Sendable { case max, average }

    public struct Pool: Sendable {
        public var kind: PoolKind
        public var input: Value
        public var output: Value
        public var kernel: (h: Int, w: Int)
        public var stride: Int
        public var padding: Int
    }

    /// A fully connected layer over the flattened input (`weight` is [out, in]).
    public struct Linear: Sendable {
        public var input: Value
        public var output: Value
        public var weight: String
        public var bias: String?
        public var relu: Bool
    }

    /// Nearest-neighbour upsampling by an integer factor (`F.interpolate(mode="nearest")`
    /// to exactly factor x the size, as FPN's top-down path uses it).
    public struct Upsample: Sendable {
        public var input: Value
        public var output: Value
        public var factor: Int
    }

    /// `nn.GroupNorm` (statistics of each image's group of channels, then a per-channel
    /// affine), optionally followed by ReLU: RetinaNet v2's head normalises this way.
    public struct GroupNorm: Sendable {
        public var input: Value
        public var output: Value
        public var groups: Int
        /// Key prefix: `<prefix>.weight`, `<prefix>.bias`.
        public var prefix: String
        public var eps: Float
        public var relu: Bool
    }

    /// Bilinear resizing to the output's height and width, as `F.interpolate(mode="bilinear")`
    /// with `size=` computes it: torchvision's segmentation models upsample their logits
    /// this way (`alignCorners` false), and DeepLabV3's image pooling broadcasts with it.
    public struct Resize: Sendable {
        public var input: Value
        public var output: Value
        /// PyTorch's `align_corners`: true maps the corner pixels' centres onto each other;
        /// false (its default) maps the corners of the images, sampling at half-pixel centres.
        public var alignCorners: Bool
    }

    /// `torch.cat(inputs, dim=1)`: the channels of each input in turn.
    public struct Concat: Sendable {
        public var inputs: [Value]
        public var output: Value
    }

    public enum Op: Sendable {
        case convolution(Convolution)
        case pool(Pool)
        case linear(Linear)
        case upsample(Upsample)
        case groupNorm(GroupNorm)
        case resize(Resize)
        case concat(Concat)

        /// The value the op writes.
        public var output: Value {
            switch self {
            case .convolution(let c): c.output
            case .pool(let p): p.output
            case .linear(let l): l.output
            case .upsample(let u): u.output
            case .groupNorm(let g): g.output
            case .resize(let r): r.output
            case .concat(let c): c.output
            }
        }

        /// The values the op computes from: its input, or a concatenation's inputs (a
        /// residual, also read, is not among them).
        public var inputs: [Value] {
            switch self {
            case .convolution(let c): [c.input]
            case .pool(let p): [p.input]
            case .linear(let l): [l.input]
            case .upsample(let u): [u.input]
            case .groupNorm(let g): [g.input]
            case .resize(let r): [r.input]
            case .concat(let c): c.inputs
            }
        }

        /// Every value the op reads: its inputs and a convolution's residual.
        public var reads: [Value] {
            if case .convolution(let c) = self, let r = c.residual { return [c.input, r] }
            return inputs
        }
    }

    /// A per-channel affine applied to the input before the first op, `x * scale + shift`
    /// (a model's mean/std normalisation), so that a device normalises the pixels where
    /// they land instead of the host doing it batch by batch.
    public struct InputScaling: Sendable {
        public var scale: [Float]
        public var shift: [Float]
    }

    public internal(set) var ops: [Op] = []
    public internal(set) var inputScaling: InputScaling?
    public internal(set) var shapes: [Shape4] = []
    public internal(set) var input: Value
    public internal(set) var outputs: [Value] = []
    /// Every parameter the graph reads, with its PyTorch shape.
    public internal(set) var parameters: [String: [Int]] = [:]

    public func shape(of value: Value) -> Shape4 { shapes[value.id] }

    /// This graph with its input normalised first: `(x - mean[c]) / std[c]`.
    public func normalizingInput(mean: [Float], std: [Float]) -> Graph {
        precondition(mean.count == shape(of: input).c && std.count == mean.count, "one mean and std per input channel")
        var graph = self
        graph.inputScaling = InputScaling(scale: std.map { 1 / $0 }, shift: zip(mean, std).map { -$0 / $1 })
        return graph
    }
}
