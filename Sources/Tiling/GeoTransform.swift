/// GDAL's affine geotransform: map x = c0 + col * c1 + row * c2,
/// map y = c3 + col * c4 + row * c5 (pixel corners, not centres).
public struct GeoTransform: Hashable, Sendable, CustomStringConvertible {
    public var originX: Double
    public var pixelWidth: Double
    public var rowRotation: Double
    public var originY: Double
    public var columnRotation: Double
    public var pixelHeight: Double

    public init(_ c: [Double]) {
        precondition(c.count == 6, "a geotransform has 6 coefficients")
        (originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight) =
            (c[0], c[1], c[2], c[3], c[4], c[5])
    }

    public init(originX: Double, originY: Double, pixelSize: Double) {
        self.init([originX, pixelSize, 0, originY, 0, -pixelSize])
    }

    /// GDAL's default for a raster without georeferencing: pixel coordinates, y down.
    public static let identity = GeoTransform([0, 1, 0, 0, 0, 1])

    public var array: [Double] { [originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight] }

    /// The map coordinates of a pixel-space point (col, row may be fractional).
    public func apply(col: Double, row: Double) -> (x: Double, y: Double) {
        (originX + col * pixelWidth + row * rowRotation, originY + col * columnRotation + row * pixelHeight)
    }

    /// The geotransform of a window's own pixel grid (its origin moved to the window's corner).
    public func shifted(to window: Window) -> GeoTransform {
        let (x, y) = apply(col: Double(window.colOff), row: Double(window.rowOff))
        return GeoTransform([x, pixelWidth, rowRotation, y, columnRotation, pixelHeight])
    }

    /// The window's bounding box in map coordinates (all four corners, so rotation is covered).
    public func bounds(of window: Window) -> Bounds {
        let corners = [
            apply(col: Double(window.colOff), row: Double(window.rowOff)),
            apply(col: Double(window.colEnd), row: Double(window.rowOff)),
            apply(col: Double(window.colOff), row: Double(window.rowEnd)),
            apply(col: Double(window.colEnd), row: Double(window.rowEnd)),
        ]
        return Bounds(
            minX: corners.map(\.x).min()!, minY: corners.map(\.y).min()!,
            maxX: corners.map(\.x).max()!, maxY: corners.map(\.y).max()!)
    }

    public var description: String { "GeoTransform(\(array.map { "\($0)" }.joined(separator: ", ")))" }
}

/// An axis-aligned box in map coordinates.
public struct Bounds: Hashable, Sendable {
    public var minX, minY, maxX, maxY: Double
    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        (self.minX, self.minY, self.maxX, self.maxY) = (minX, minY, maxX, maxY)
    }
}

/// Where a raster sits on the Earth: its geotransform and its CRS (WKT). A raster
/// without georeferencing has `crsWKT == nil` and the identity transform, so results
/// fall back to pixel coordinates.
public struct Georeference: Hashable, Sendable {
    public var transform: GeoTransform
    public var crsWKT: String?
    public init(transform: GeoTransform, crsWKT: String?) {
        self.transform = transform
        self.crsWKT = crsWKT
    }
    public static let none = Georeference(transform: .identity, crsWKT: nil)
    public var isGeoreferenced: Bool { crsWKT != nil || transform != .identity }
}
