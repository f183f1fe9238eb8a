import Configuration
import Tiling

/// The raster a run tiled, as the merge needs it: where results sit on the ground and
/// how the tiles overlapped.
public struct RasterContext: Codable, Sendable {
    public var imagePath: String
    public var width: Int
    public var height: Int
    public var geotransform: [Double]
    public var crsWKT: String?
    public var tileSize: Int
    public var overlap: Int
    public var mergeIoU: Double
    /// Absent in runs from before there was a choice: `seams`.
    public var merge: MergeMode?
    /// How the tiles were placed; absent in runs from before there was a choice: `spread`.
    public var tiling: TileLayout?
    /// A segmentation's classes (its raster's palette and id type); absent for other tasks.
    public var classes: Int?
    /// A segmentation's `stitch` and `probabilities`; absent: `center`, none.
    public var stitch: Stitch?
    public var probabilities: ProbabilityOutput?

    /// How a segmentation's parts were written, for the gather.
    public var segmentation: SegmentationLayout {
        SegmentationLayout(grid: grid, stitch: stitch ?? .center, probabilities: probabilities ?? ProbabilityOutput.none)
    }

    /// The run's tile grid over this raster.
    public var grid: TileGrid {
        TileGrid(rasterWidth: width, rasterHeight: height, tileSize: tileSize, overlap: overlap, layout: tiling ?? .spread)
    }

    enum CodingKeys: String, CodingKey {
        case width, height, geotransform, overlap, merge, tiling, classes, stitch, probabilities
        case imagePath = "image_path"
        case crsWKT = "crs_wkt"
        case tileSize = "tile_size"
        case mergeIoU = "merge_iou"
    }

    public init(
        imagePath: String, width: Int, height: Int, geotransform: [Double], crsWKT: String?, tileSize: Int, overlap: Int,
        mergeIoU: Double, merge: MergeMode = .seams, tiling: TileLayout = .spread, classes: Int? = nil,
        stitch: Stitch? = nil, probabilities: ProbabilityOutput? = nil
    ) {
        (self.classes, self.stitch, self.probabilities) = (classes, stitch, probabilities)
        (self.imagePath, self.width, self.height, self.geotransform, self.crsWKT) = (imagePath, width, height, geotransform, crsWKT)
        (self.tileSize, self.overlap, self.mergeIoU, self.merge, self.tiling) = (tileSize, overlap, mergeIoU, merge, tiling)
    }
}
