/// What a read does with pixels the raster marks as holding no data.
public enum MissingPixels: String, Sendable, CaseIterable {
    /// Values as stored, as the seed's `src.read(window=..., boundless=True)` and
    /// DeepForest see them: a band's nodata value is just a value.
    case keep
    /// Pixels the dataset's mask marks as missing become 0 in every band: those under
    /// an alpha band or internal mask, or where every selected band holds its nodata
    /// value (rasterio's `dataset_mask()`). Never one channel at a time: a saturated
    /// red sample equal to a nodata of 255 is a real colour, not a hole.
    case zero
}
