/// What travels with each tile's pixels: its place in the run and on the ground.
public struct TileInfo: Hashable, Sendable {
    /// Position in the source's tile list (row-major for a raster), unique in a run.
    public var index: Int
    /// The window read from the raster (may reach past its edges).
    public var window: Window
    /// The window's own geotransform: pixel (0, 0) of the tile is its top-left corner.
    public var transform: GeoTransform

    public init(index: Int, window: Window, transform: GeoTransform) {
        self.index = index
        self.window = window
        self.transform = transform
    }

    /// The tile's bounds in the raster's CRS (pixel coordinates without georeferencing).
    public var bounds: Bounds {
        transform.bounds(of: Window(colOff: 0, rowOff: 0, width: window.width, height: window.height))
    }
}
