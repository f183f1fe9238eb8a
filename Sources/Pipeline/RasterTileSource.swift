import Engine
import Raster
import Tiling

/// The tiles of a raster file, laid out by ``TileGrid``.
public struct RasterTileSource: TileSource {
    public let raster: RasterInfo
    public let grid: TileGrid
    public let missing: MissingPixels
    /// Readers say which tiles hold no data, for the loader to skip them.
    public let skipEmpty: Bool
    /// Readers say which pixels hold no data (a segmentation leaves them nodata).
    public var marksMissing = false

    /// Opens `path` once to learn its size and check the bands; readers reopen it.
    public init(
        path: String, bands: [Int], tileSize: Int, overlap: Int, layout: TileLayout = .spread, missing: MissingPixels = .keep,
        skipEmpty: Bool = false
    ) throws(RasterError) {
        raster = try RasterDataset(path: path, bands: bands).info
        self.missing = missing
        self.skipEmpty = skipEmpty
        grid = TileGrid(rasterWidth: raster.width, rasterHeight: raster.height, tileSize: tileSize, overlap: overlap, layout: layout)
    }

    public var count: Int { grid.count }
    public var tileShape: TileShape {
        TileShape(channels: raster.bands.count, height: grid.tileSize, width: grid.tileSize)
    }

    public func info(at index: Int) -> TileInfo {
        let window = grid.window(at: index)
        return TileInfo(index: index, window: window, transform: raster.georeference.transform.shifted(to: window))
    }

    /// Byte and UInt16 rasters (every band one type) can cross to a device as stored.
    public var storedPixels: PixelEncoding? {
        switch raster.storedType {
        case .byte: .uint8(scale: SampleType.byte.scale)
        case .uint16: .uint16(scale: SampleType.uint16.scale)
        default: nil
        }
    }

    public func makeReader() throws -> any TileReader {
        Reader(
            dataset: try RasterDataset(path: raster.path, bands: raster.bands, missing: missing), grid: grid, skipEmpty: skipEmpty,
            marksMissing: marksMissing)
    }

    private struct Reader: TileReader {
        let dataset: RasterDataset
        let grid: TileGrid
        let skipEmpty: Bool
        let marksMissing: Bool
        func read(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws -> TileRead {
            try read(index) { window, marks in try dataset.read(window, into: buffer, checkingEmptiness: skipEmpty, missing: marks) }
        }

        func read(_ index: Int, stored buffer: UnsafeMutableRawBufferPointer) throws -> TileRead {
            try read(index) { window, marks in try dataset.read(window, stored: buffer, checkingEmptiness: skipEmpty, missing: marks) }
        }

        /// Tile `index` by `body`, with a missing-pixel mask where the source marks them.
        private func read(
            _ index: Int, _ body: (Window, UnsafeMutableBufferPointer<UInt8>?) throws -> (bytes: Int, empty: Bool)
        ) throws -> TileRead {
            let window = grid.window(at: index)
            guard marksMissing else {
                let (bytes, empty) = try body(window, nil)
                return TileRead(bytes: bytes, empty: empty)
            }
            var mask = [UInt8](repeating: 0, count: window.area)
            let (bytes, empty) = try mask.withUnsafeMutableBufferPointer { try body(window, $0) }
            return TileRead(bytes: bytes, empty: empty, missing: mask.contains(1) ? mask : nil)
        }
    }
}
