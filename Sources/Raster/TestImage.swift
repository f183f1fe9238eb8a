import Tiling

/// The seed's `mgpr-test-image`: a square, 3-band Byte GeoTIFF of random pixels,
/// tiled in blocks of `tileSize`, DEFLATE-compressed, BigTIFF when it must be,
/// and here also georeferenced and reproducible from `seed`.
///
/// It streams block by block: each block's pixels come from a generator seeded by
/// (seed, block index), so a 100000 px image needs no more memory than a small one
/// and the same seed gives the same bytes.
public struct TestImage: Sendable {
    public var size: Int
    public var tileSize: Int
    public var seed: UInt64
    public var georeference: Georeference
    public static let bandCount = 3

    public init(size: Int, tileSize: Int, seed: UInt64, georeference: Georeference) {
        (self.size, self.tileSize, self.seed, self.georeference) = (size, tileSize, seed, georeference)
    }

    /// Writes the image; `progress(done, total)` is called after each block.
    public func write(to path: String, progress: (Int, Int) -> Void = { _, _ in }) throws(RasterError) {
        let writer = try GeoTIFFWriter(
            path: path, width: size, height: size, bandCount: Self.bandCount, blockSize: tileSize,
            georeference: georeference)
        let blocks = writer.blocks
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: writer.blockSize * writer.blockSize * Self.bandCount, alignment: 64)
        defer { buffer.deallocate() }
        for (index, block) in blocks.enumerated() {
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(block.area * Self.bandCount)])
            var noise = PixelNoise(seed: seed, stream: UInt64(index))
            noise.fill(bytes)
            try writer.write(block, bytes: UnsafeRawBufferPointer(bytes))
            progress(index + 1, blocks.count)
        }
        try writer.close()
    }
}
