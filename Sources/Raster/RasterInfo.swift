import Tiling

/// What a raster is, read once when it is opened; a plain value shared between threads.
public struct RasterInfo: Sendable, Hashable {
    public var path: String
    public var driver: String
    public var width: Int
    public var height: Int
    public var bandCount: Int
    /// The bands read, 1-based as in GDAL and rasterio, in the order given.
    public var bands: [Int]
    /// Sample type of each selected band.
    public var sampleTypes: [SampleType]
    /// Nodata value of each selected band, if it has one.
    public var nodata: [Double?]
    public var georeference: Georeference
    /// The file's internal block size (tiles of a tiled GeoTIFF, strips otherwise).
    public var blockWidth: Int
    public var blockHeight: Int

    /// Stored bytes behind one pixel of the selected bands.
    public var bytesPerPixel: Int { sampleTypes.reduce(0) { $0 + $1.byteCount } }
}
