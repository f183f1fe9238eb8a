/// A rectangle of pixels in a raster, as rasterio's `Window`: column and row of the
/// top-left corner, then width and height. It may reach past the raster's edges
/// (a boundless window); ``clipped(toWidth:height:)`` gives the part that exists.
public struct Window: Hashable, Sendable, CustomStringConvertible {
    public var colOff: Int
    public var rowOff: Int
    public var width: Int
    public var height: Int

    public init(colOff: Int, rowOff: Int, width: Int, height: Int) {
        self.colOff = colOff
        self.rowOff = rowOff
        self.width = width
        self.height = height
    }

    public var colEnd: Int { colOff + width }
    public var rowEnd: Int { rowOff + height }
    public var area: Int { width * height }

    /// The overlap of two windows, or nil when they do not touch.
    public func intersection(_ other: Window) -> Window? {
        let c0 = max(colOff, other.colOff), r0 = max(rowOff, other.rowOff)
        let c1 = min(colEnd, other.colEnd), r1 = min(rowEnd, other.rowEnd)
        guard c1 > c0, r1 > r0 else { return nil }
        return Window(colOff: c0, rowOff: r0, width: c1 - c0, height: r1 - r0)
    }

    /// The part of this window inside a raster of the given size, or nil when none is.
    public func clipped(toWidth rasterWidth: Int, height rasterHeight: Int) -> Window? {
        intersection(Window(colOff: 0, rowOff: 0, width: rasterWidth, height: rasterHeight))
    }

    public var description: String {
        "Window(col_off=\(colOff), row_off=\(rowOff), width=\(width), height=\(height))"
    }
}
