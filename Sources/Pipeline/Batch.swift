import Engine
import Tiling

/// A batch of tiles in one contiguous NCHW buffer, reused from batch to batch: floats
/// in [0, 1], or the raster's stored samples where the model takes them (``encoding``).
///
/// A batch is owned by one thread at a time: a reader fills it, the queue hands it to
/// a device worker, the worker gives it back to the pool. That hand-over through a
/// locked queue is what makes the unchecked `Sendable` sound.
public final class Batch: @unchecked Sendable {
    public let capacity: Int
    public let tileShape: TileShape
    /// How the pixels are held.
    public let encoding: PixelEncoding
    /// The pixels, `capacity` tiles long; only the first `count` tiles are valid.
    public let pixels: HostBuffer
    /// Sequence number of the batch in this run (0-based).
    public internal(set) var number = 0
    /// The tiles it holds, in buffer order.
    public internal(set) var tiles: [TileInfo] = []
    /// Tiles of its share of the plan that held no data and were left out (skip_empty).
    public internal(set) var skipped: [TileInfo] = []
    /// Per tile, its missing pixels where the source marks them (``TileRead/missing``).
    public internal(set) var missing: [[UInt8]?] = []
    /// Bytes of stored raster data read to fill it.
    public internal(set) var bytesRead = 0
    /// Seconds reader threads spent filling it.
    public internal(set) var readSeconds = 0.0

    /// - Parameter memory: where to take the pixels from (a device's pinned memory, so
    ///   copies to it run at full speed and overlap compute). They are left
    ///   uninitialised: readers write every element of a tile before it is used. A fresh
    ///   buffer costs page faults when first written (about 0.1 s per 200 MB here; huge
    ///   pages did not help), which is why batches are pooled.
    public init(capacity: Int, tileShape: TileShape, encoding: PixelEncoding = .float32, memory: (any HostMemory)? = nil) {
        self.capacity = capacity
        self.tileShape = tileShape
        self.encoding = encoding
        pixels = HostBuffer(count: (Self.bytes(capacity: capacity, tileShape: tileShape, encoding: encoding) + 3) / 4, memory: memory)
    }

    /// Bytes of the pixels of `capacity` tiles.
    public static func bytes(capacity: Int, tileShape: TileShape, encoding: PixelEncoding) -> Int {
        capacity * tileShape.elementCount * encoding.bytesPerSample
    }

    public var count: Int { tiles.count }
    /// Shape of the valid part: [count, channels, height, width].
    public var shape: [Int] { [count, tileShape.channels, tileShape.height, tileShape.width] }

    /// Lends the pixels of the `i`-th tile in the batch to `body` (a float batch's).
    public func withTile<R>(_ i: Int, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(i >= 0 && i < capacity)
        precondition(encoding == .float32, "a batch of \(encoding) samples lent as floats")
        let n = tileShape.elementCount
        return try pixels.withUnsafeMutableBufferPointer { try body(UnsafeMutableBufferPointer(rebasing: $0[(i * n)..<((i + 1) * n)])) }
    }

    /// Lends the bytes of the `i`-th tile in the batch to `body`, whatever the encoding.
    public func withTileBytes<R>(_ i: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        precondition(i >= 0 && i < capacity)
        let n = tileShape.elementCount * encoding.bytesPerSample
        return try pixels.withUnsafeMutableBytes { try body(UnsafeMutableRawBufferPointer(rebasing: $0[(i * n)..<((i + 1) * n)])) }
    }

    /// Bytes of host memory this batch holds.
    public var byteCount: Int { pixels.byteCount }
}
