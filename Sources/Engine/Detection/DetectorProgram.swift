/// A detector as one static program for one (images, height, width): its networks
/// (``Graph``s) and its own steps between them (``DetectionStep``: the transform,
/// proposals, NMS, RoIAlign, post-processing), over buffers of fixed sizes. Whatever
/// depends on the pixels (how many boxes survive) is a count in a buffer, and every step
/// masks what lies past it, so nothing changes shape from one run to the next.
///
/// A model describes its detector once, as a program; every backend compiles programs
/// (``Backend/compile(_:weights:precision:)-(DetectorProgram,_,_)``) by implementing the
/// steps, so adding a backend does not change a model, nor adding a model a backend.
public struct DetectorProgram: Sendable {
    public struct Buffer: Hashable, Sendable { public let id: Int }

    public enum Element: Sendable {
        case float32, int32, uint8, uint16
        public var byteCount: Int {
            switch self {
            case .float32, .int32: 4
            case .uint8: 1
            case .uint16: 2
            }
        }
    }

    /// Where a buffer's contents come from.
    public enum Storage: Sendable {
        /// Written by a step (or the program's input) before anything reads it.
        case work
        /// Values fixed when the program is described.
        case floats([Float])
        /// Network `k`'s input, or its output `j`: a backend may place these where its plans want them.
        case networkInput(Int)
        case networkOutput(Int, Int)
    }

    public struct BufferInfo: Sendable {
        public var element: Element
        public var count: Int
        public var storage: Storage
        public var byteCount: Int { element.byteCount * count }
    }

    /// Candidate boxes, `perImage` slots per image: the box (x1, y1, x2, y2; float32 x 4),
    /// its score, its group (a level or a class; int32) and whether the slot holds one (int32).
    public struct Candidates: Sendable {
        public var boxes, scores, groups, valid: Buffer
        public var perImage: Int
    }

    /// What an NMS kept: per image the candidate slots of up to `limit` boxes, best first
    /// (int32), and how many (int32 per image).
    public struct Kept: Sendable {
        public var slots, counts: Buffer
        public var limit: Int
    }

    /// A network of the program, and the buffers of its input and outputs.
    public struct Network: Sendable {
        public let index: Int
        public let input: Buffer
        public let outputs: [Buffer]
    }

    public private(set) var buffers: [BufferInfo] = []
    public private(set) var networks: [Graph] = []
    public private(set) var steps: [DetectionStep] = []
    /// The tiles: `images` x `channels` x `height` x `width` samples, as `pixels` says.
    public private(set) var input = Buffer(id: 0)
    /// How the input holds the pixels: float32 in [0, 1], or stored samples the
    /// transform scales.
    public let pixels: PixelEncoding
    /// What a run hands back, copied to the host in this order.
    public var outputs: [Buffer] = []
    public let images: Int

    public init(images: Int, channels: Int, height: Int, width: Int, pixels: PixelEncoding = .float32) {
        self.images = images
        self.pixels = pixels
        let element: Element = switch pixels {
        case .float32: .float32
        case .uint8: .uint8
        case .uint16: .uint16
        }
        input = buffer(element, count: images * channels * height * width)
    }

    public subscript(buffer: Buffer) -> BufferInfo { buffers[buffer.id] }

    public mutating func buffer(_ element: Element, count: Int, storage: Storage = .work) -> Buffer {
        precondition(count > 0, "an empty buffer")
        buffers.append(BufferInfo(element: element, count: count, storage: storage))
        return Buffer(id: buffers.count - 1)
    }

    public mutating func constant(_ values: [Float]) -> Buffer { buffer(.float32, count: values.count, storage: .floats(values)) }

    public mutating func candidates(perImage: Int) -> Candidates {
        let slots = images * perImage
        return Candidates(
            boxes: buffer(.float32, count: slots * 4), scores: buffer(.float32, count: slots), groups: buffer(.int32, count: slots),
            valid: buffer(.int32, count: slots), perImage: perImage)
    }

    public mutating func kept(limit: Int) -> Kept {
        Kept(slots: buffer(.int32, count: images * limit), counts: buffer(.int32, count: images), limit: limit)
    }

    /// Adds `graph` (NCHW float32 in and out) without running it: ``run(_:)`` queues it.
    public mutating func network(_ graph: Graph) -> Network {
        let k = networks.count
        networks.append(graph)
        let input = buffer(.float32, count: graph.shape(of: graph.input).count, storage: .networkInput(k))
        let outputs = graph.outputs.enumerated().map { j, value in
            buffer(.float32, count: graph.shape(of: value).count, storage: .networkOutput(k, j))
        }
        return Network(index: k, input: input, outputs: outputs)
    }

    public mutating func run(_ network: Network) { steps.append(.network(network.index)) }

    public mutating func append(_ step: DetectionStep) { steps.append(step) }
}
