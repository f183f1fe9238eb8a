/// The k smallest keys of each segment (top-k of scores as ``DetectionKernels``' rank
/// keys), ascending, as the detector's lowering and the kernel checks launch it: one
/// block per segment where a segment is short, several where it is long, so that a
/// level of 120 000 anchors (the RPN's first at 800 px) or of millions of class scores
/// (RetinaNet's) is read by the whole GPU rather than by one multiprocessor per image.
package enum SelectLaunches {
    /// Keys per block when a segment is spread over several.
    package static let chunk = 8192
    /// From this many keys a segment is spread over several blocks.
    package static let spreadFrom = 65536

    /// Device memory beyond the keys and the output: sorting space (`width` keys per
    /// segment), and for the spread selection 256 counts and 3 words of state per segment.
    package struct Scratch {
        package let sort, histograms, state: UInt64

        package static func bytes(segments: Int, width: Int) -> [Int] { [segments * width * 8, segments * 256 * 4, segments * 24] }

        package init(segments: Int, width: Int, allocate: (Int) throws -> UInt64) throws {
            let regions = try Self.bytes(segments: segments, width: width).map(allocate)
            (sort, histograms, state) = (regions[0], regions[1], regions[2])
        }
    }

    /// Sorting space per segment for k keys.
    package static func width(_ k: Int) -> Int { DetectorLowering.powerOfTwo(atLeast: k) }

    /// The launches selecting the k smallest of each of `segments` segments of `length`
    /// keys (`stride` apart) at `keys` into `out` (k per segment, NO_KEY past those
    /// present); with `lengths` (an address of one UInt64 per segment, 0 for none) each
    /// segment holds only that many, at most `length`. Spread over several blocks per
    /// segment when `spread` (by default from ``spreadFrom`` keys), `chunk` keys to a
    /// block. `scratch` sized for `width(k)` at least.
    package static func launches(segments: Int, keys: UInt64, length: Int, lengths: UInt64 = 0, stride: Int, k: Int, out: UInt64,
                                 scratch: Scratch, spread: Bool? = nil, chunk: Int = chunk) -> [KernelStep] {
        let width = width(k)
        guard spread ?? (length >= spreadFrom && length > k) else {
            return [KernelStep("mgpr_det_select", blocks: segments, threads: 1024, [
                .address(keys), .long(Int64(length)), .address(lengths), .long(Int64(stride)), .int(Int32(k)), .address(scratch.sort),
                .int(Int32(width)), .address(out),
            ])]
        }
        let chunks = (length + chunk - 1) / chunk, blocks = segments * chunks
        var steps = [KernelStep("mgpr_det_select_reset", count: segments * 256, threads: 256, [
            .address(scratch.histograms), .long(Int64(segments * 256)),
        ])]
        for shift in Swift.stride(from: 56, through: 0, by: -8) {
            steps.append(KernelStep("mgpr_det_select_histogram", blocks: blocks, threads: 256, [
                .address(keys), .long(Int64(length)), .address(lengths), .long(Int64(stride)), .int(Int32(chunks)), .int(Int32(chunk)), .int(Int32(shift)),
                .address(scratch.state), .address(scratch.histograms),
            ]))
            steps.append(KernelStep("mgpr_det_select_digit", blocks: segments, threads: 256, [
                .address(scratch.histograms), .int(Int32(shift)), .int(Int32(k)), .address(scratch.state),
            ]))
        }
        steps.append(KernelStep("mgpr_det_select_gather", blocks: blocks, threads: 256, [
            .address(keys), .long(Int64(length)), .address(lengths), .long(Int64(stride)), .int(Int32(chunks)), .int(Int32(chunk)), .address(scratch.state),
            .address(scratch.sort), .int(Int32(width)),
        ]))
        steps.append(KernelStep("mgpr_det_select_sort", blocks: segments, threads: 1024, [
            .address(scratch.state), .address(scratch.sort), .int(Int32(width)), .int(Int32(k)), .address(out),
        ]))
        return steps
    }

    /// Scores per block of `mgpr_det_class_keys` (its CLASS_KEYS_CHUNK).
    package static let classKeysChunk = 2048

    /// RetinaNet's class scores of one level ([segments, anchors * classes, plane] logits
    /// at `logits`) above `threshold` as keys, compacted to the front of each segment's
    /// `anchors * classes * plane` slots of `keys`, their counts (one UInt64 per segment,
    /// zeroed before) at `counts`: the `lengths` of the selection after.
    package static func classKeys(segments: Int, logits: UInt64, anchors: Int, classes: Int, plane: Int, threshold: Float,
                                  keys: UInt64, counts: UInt64) -> KernelStep {
        let chunks = (anchors * classes * plane + classKeysChunk - 1) / classKeysChunk
        return KernelStep("mgpr_det_class_keys", blocks: segments * chunks, threads: 256, [
            .address(logits), .address(keys), .int(Int32(anchors)), .int(Int32(classes)), .long(Int64(plane)), .float(threshold),
            .int(Int32(chunks)), .address(counts),
        ])
    }
}
