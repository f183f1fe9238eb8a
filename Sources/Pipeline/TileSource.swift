import Engine
import Tiling

/// Where tiles come from. A source is a plain description shared by all threads;
/// each reader thread asks it for a ``TileReader`` of its own (GDAL handles, like
/// file descriptors, are not shared between threads).
public protocol TileSource: Sendable {
    /// Number of tiles; they are numbered 0..<count.
    var count: Int { get }
    /// Channels, height and width of every tile.
    var tileShape: TileShape { get }
    /// Window and georeferencing of tile `index`.
    func info(at index: Int) -> TileInfo
    /// A reader for the calling thread.
    func makeReader() throws -> any TileReader
    /// How its readers can hand over tiles as stored, unconverted (``TileReader/read(_:stored:)``);
    /// nil where only floats.
    var storedPixels: PixelEncoding? { get }
}

extension TileSource {
    public var storedPixels: PixelEncoding? { nil }
}

/// Reads tiles' pixels; used by one thread at a time.
public protocol TileReader {
    /// Writes tile `index` as CHW [0, 1] floats into `buffer` (exactly `tileShape.elementCount`).
    func read(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws -> TileRead
    /// Writes tile `index` as CHW samples as stored, in the source's ``TileSource/storedPixels``
    /// encoding (outside the raster, and missing pixels where the source zeroes them, 0).
    func read(_ index: Int, stored buffer: UnsafeMutableRawBufferPointer) throws -> TileRead
}

extension TileReader {
    public func read(_ index: Int, stored buffer: UnsafeMutableRawBufferPointer) throws -> TileRead {
        throw StoredPixelsUnavailable()
    }
}

/// A reader asked for stored samples its source does not offer (``TileSource/storedPixels`` is nil).
public struct StoredPixelsUnavailable: Error, CustomStringConvertible {
    public var description: String { "this tile source gives floats only, not stored samples" }
}

/// What reading one tile found.
public struct TileRead: Sendable {
    /// Bytes of stored data read for it.
    public var bytes: Int
    /// It holds no data (all missing, or one value in every band) and may be skipped;
    /// only sources asked to look (`skip_empty`) say so.
    public var empty: Bool
    /// Per pixel of the window (row-major), 1 where the raster holds no data (the dataset
    /// mask, or outside the raster); nil when none is missing or the source was not asked.
    public var missing: [UInt8]?

    public init(bytes: Int, empty: Bool = false, missing: [UInt8]? = nil) {
        (self.bytes, self.empty, self.missing) = (bytes, empty, missing)
    }
}

/// The shape of one tile: channels x height x width.
public struct TileShape: Hashable, Sendable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int
    public init(channels: Int, height: Int, width: Int) {
        (self.channels, self.height, self.width) = (channels, height, width)
    }
    public var elementCount: Int { channels * height * width }
    public var description: String { "\(channels)x\(height)x\(width)" }
}
