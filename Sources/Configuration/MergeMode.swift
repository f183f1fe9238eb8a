/// `merge`: how boxes from different tiles become one set for the raster.
public enum MergeMode: String, Sendable, Codable {
    /// With overlap > 0, same-class boxes from neighbouring tiles overlapping more than
    /// merge_iou are one object, whole boxes winning over boxes cut by a tile edge.
    case seams
    /// One NMS at merge_iou over every box of every tile, all classes together (DeepForest's).
    case mosaic
}
