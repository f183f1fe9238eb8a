/// How tiles are placed along an axis of a raster.
public enum TileLayout: String, Codable, Sendable, CaseIterable {
    /// The fewest tiles that keep the overlap, spread evenly (the seed's grid).
    case spread
    /// A tile every `tile - overlap` pixels from 0, the last moved back to end at the
    /// raster's edge: DeepForest's sliding windows (`slidingwindow.generate`), whose last
    /// two overlap by more than the rest.
    case stride
}

/// The tiles that cover a raster: windows of `tileSize` whose edges line up with the
/// raster's bounds, neighbours overlapping by at least `overlap` pixels.
///
/// Along each axis of length `L` with tile `T` and minimum overlap `O`:
/// - `L <= T`: one tile at 0, reaching past the far edge when `L < T` (read boundless);
/// - ``TileLayout/spread``: `n = ceil((L - O) / (T - O))` tiles, the first at 0 and the
///   last ending exactly at `L`, the ones between spread evenly. Spreading keeps every
///   overlap between `O` and `O + 1` of each other, instead of one thin sliver at the end.
/// - ``TileLayout/stride``: tiles at 0, `T - O`, `2(T - O)`, ... up to `L - T`, then one
///   at `L - T` unless the last already is.
///
/// Tiles are numbered row-major: index = row * columns + column.
public struct TileGrid: Hashable, Sendable {
    public let rasterWidth: Int
    public let rasterHeight: Int
    public let tileSize: Int
    public let overlap: Int
    public let layout: TileLayout
    public let columnOffsets: [Int]
    public let rowOffsets: [Int]

    /// - Precondition: `tileSize > 0`, `0 <= overlap < tileSize`, raster sides > 0.
    ///   The configuration layer checks these with errors a user can act on.
    public init(rasterWidth: Int, rasterHeight: Int, tileSize: Int, overlap: Int = 0, layout: TileLayout = .spread) {
        precondition(tileSize > 0 && overlap >= 0 && overlap < tileSize)
        precondition(rasterWidth > 0 && rasterHeight > 0)
        self.rasterWidth = rasterWidth
        self.rasterHeight = rasterHeight
        self.tileSize = tileSize
        self.overlap = overlap
        self.layout = layout
        columnOffsets = Self.offsets(length: rasterWidth, tile: tileSize, overlap: overlap, layout: layout)
        rowOffsets = Self.offsets(length: rasterHeight, tile: tileSize, overlap: overlap, layout: layout)
    }

    public var columns: Int { columnOffsets.count }
    public var rows: Int { rowOffsets.count }
    public var count: Int { columns * rows }

    /// The window of tile `index` (row-major).
    public func window(at index: Int) -> Window {
        precondition(index >= 0 && index < count, "tile index \(index) outside 0..<\(count)")
        let (row, column) = index.quotientAndRemainder(dividingBy: columns)
        return Window(
            colOff: columnOffsets[column], rowOff: rowOffsets[row], width: tileSize, height: tileSize)
    }

    public var windows: [Window] { (0..<count).map(window(at:)) }

    /// The part of the raster nearer tile `index`'s centre than any other tile's: its
    /// window cut at the middle of each overlap and at the raster's edges. These cells
    /// tile the raster exactly, one per tile, so a map of them reads as the grid.
    public func nearestCell(at index: Int) -> Window {
        precondition(index >= 0 && index < count, "tile index \(index) outside 0..<\(count)")
        let (row, column) = index.quotientAndRemainder(dividingBy: columns)
        let (c0, c1) = Self.cellBounds(columnOffsets, column, tile: tileSize, length: rasterWidth)
        let (r0, r1) = Self.cellBounds(rowOffsets, row, tile: tileSize, length: rasterHeight)
        return Window(colOff: c0, rowOff: r0, width: c1 - c0, height: r1 - r0)
    }

    /// The tiles whose cells share pixels with `window`, and those pixels: where a
    /// window's output lands in its neighbours' cells.
    public func cells(overlapping window: Window) -> [(index: Int, pixels: Window)] {
        func overlapping(_ offsets: [Int], length: Int, from start: Int, to end: Int) -> [(Int, Int, Int)] {
            offsets.indices.compactMap { i in
                let (c0, c1) = Self.cellBounds(offsets, i, tile: tileSize, length: length)
                return c1 > start && c0 < end ? (i, c0, c1) : nil
            }
        }
        let columns = overlapping(columnOffsets, length: rasterWidth, from: window.colOff, to: window.colEnd)
        let rows = overlapping(rowOffsets, length: rasterHeight, from: window.rowOff, to: window.rowEnd)
        return rows.flatMap { row, r0, r1 in
            columns.compactMap { column, c0, c1 in
                Window(colOff: c0, rowOff: r0, width: c1 - c0, height: r1 - r0).intersection(window).map {
                    (row * self.columns + column, $0)
                }
            }
        }
    }

    /// The tiles whose windows share pixels with `region`, and those pixels: where
    /// windows reach into a cell.
    public func windows(overlapping region: Window) -> [(index: Int, pixels: Window)] {
        func overlapping(_ offsets: [Int], from start: Int, to end: Int) -> [Int] {
            offsets.indices.filter { offsets[$0] < end && offsets[$0] + tileSize > start }
        }
        let columns = overlapping(columnOffsets, from: region.colOff, to: region.colEnd)
        return overlapping(rowOffsets, from: region.rowOff, to: region.rowEnd).flatMap { row in
            columns.compactMap { column in
                let index = row * self.columns + column
                return window(at: index).intersection(region).map { (index, $0) }
            }
        }
    }

    /// Along one axis: from the middle of the overlap with the previous tile (or 0) to
    /// the middle of the overlap with the next (or the raster's end).
    private static func cellBounds(_ offsets: [Int], _ i: Int, tile: Int, length: Int) -> (Int, Int) {
        let start = i == 0 ? 0 : (offsets[i - 1] + tile + offsets[i]) / 2
        let end = i == offsets.count - 1 ? length : (offsets[i] + tile + offsets[i + 1]) / 2
        return (start, end)
    }

    static func offsets(length: Int, tile: Int, overlap: Int, layout: TileLayout = .spread) -> [Int] {
        guard length > tile else { return [0] }
        if layout == .stride {
            let last = length - tile
            let placed = Array(Swift.stride(from: 0, through: last, by: tile - overlap))
            return placed.last == last ? placed : placed + [last]
        }
        let stride = tile - overlap
        let n = (length - overlap + stride - 1) / stride
        let span = length - tile
        // floor(i * span / (n - 1)): consecutive gaps differ by at most one and never
        // exceed `stride`, since n - 1 >= span / stride.
        return (0..<n).map { i in i * span / (n - 1) }
    }
}
