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
    /// How each selected band marks its missing pixels.
    public var masks: [PixelMask]
    public var georeference: Georeference
    /// The file's internal block size (tiles of a tiled GeoTIFF, strips otherwise).
    public var blockWidth: Int
    public var blockHeight: Int

    /// Stored bytes behind one pixel of the selected bands.
    public var bytesPerPixel: Int { sampleTypes.reduce(0) { $0 + $1.byteCount } }
    /// The bands' one integer sample type (Byte or UInt16), which a device can take as
    /// stored; nil for floating-point bands or bands of several types.
    public var storedType: SampleType? {
        guard let first = sampleTypes.first, sampleTypes.allSatisfy({ $0 == first }), first == .byte || first == .uint16 else { return nil }
        return first
    }
}

/// How a band marks pixels that hold no data, following GDAL's mask flags.
public enum PixelMask: Sendable, Hashable {
    /// Every pixel is valid (NaN still reads as 0 in float rasters).
    case allValid
    /// Pixels equal to this band's own nodata value are missing in this band:
    /// compared in place, without reading a mask band.
    case nodata(Double)
    /// GDAL's mask band says (alpha band, internal mask, or one nodata colour for all
    /// bands, as PNG's transparency): read it and keep pixels where it is non-zero.
    /// `shared` when one mask serves every band (the dataset's own mask), so it is
    /// read once per window.
    case maskBand(shared: Bool)
}
