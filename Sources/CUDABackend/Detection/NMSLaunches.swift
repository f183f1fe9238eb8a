/// NMS.batched on the GPU as ``DetectionKernels`` runs it: rank, mask and keep, with
/// their scratch. The detector's lowering and the kernel checks both launch it from here.
package enum NMSLaunches {
    /// Device memory the three kernels need beyond their inputs and outputs, for
    /// `images` of up to `perImage` candidates: sorting keys, the ranked rows and their
    /// slots and count, the mask, and the suppressed bits.
    package struct Scratch {
        package let keys, ranked, order, counts, mask, removed: UInt64

        package static func bytes(images: Int, perImage: Int) -> [Int] {
            let words = NMSLaunches.words(perImage)
            return [images * DetectorLowering.powerOfTwo(atLeast: perImage) * 8, images * perImage * 24, images * perImage * 4,
                    images * 4, images * 32 * words * (words + 1) * 8, images * words * 8]
        }

        /// Regions from `allocate` of ``bytes(images:perImage:)``, in its order.
        package init(images: Int, perImage: Int, allocate: (Int) throws -> UInt64) throws {
            let regions = try Self.bytes(images: images, perImage: perImage).map(allocate)
            (keys, ranked, order, counts, mask, removed) = (regions[0], regions[1], regions[2], regions[3], regions[4], regions[5])
        }
    }

    /// Mask words per ranked row: one bit per candidate.
    static func words(_ perImage: Int) -> Int { (perImage + 63) / 64 }

    /// The launches for `images` of `perImage` candidate slots (`boxes` [.., 4] float32,
    /// `scores` float32, `groups` and `valid` int32), keeping at most `limit` per image
    /// into `keptSlots` ([images, limit] int32) and `keptCounts` (int32 per image).
    /// `scratch` must have been sized for at least `perImage`.
    package static func launches(images: Int, perImage: Int, boxes: UInt64, scores: UInt64, groups: UInt64, valid: UInt64,
                                 threshold: Float, limit: Int, keptSlots: UInt64, keptCounts: UInt64, scratch: Scratch) -> [KernelStep] {
        let width = DetectorLowering.powerOfTwo(atLeast: perImage), words = words(perImage)
        let count = images * words * perImage
        return [
            KernelStep("mgpr_det_nms_rank", blocks: images, threads: 1024, [
                .address(boxes), .address(scores), .address(groups), .address(valid), .int(Int32(perImage)), .address(scratch.keys),
                .int(Int32(width)), .address(scratch.ranked), .address(scratch.order), .address(scratch.counts),
            ]),
            KernelStep("mgpr_det_nms_mask", count: count, threads: 256, [
                .address(scratch.ranked), .address(scratch.counts), .int(Int32(perImage)), .int(Int32(words)), .float(threshold),
                .address(scratch.mask), .long(Int64(count)),
            ]),
            KernelStep("mgpr_det_nms_keep", blocks: images, threads: 256, [
                .address(scratch.mask), .address(scratch.counts), .address(scratch.order), .int(Int32(perImage)), .int(Int32(words)),
                .int(Int32(limit)), .address(scratch.removed), .address(keptSlots), .address(keptCounts),
            ]),
        ]
    }
}
