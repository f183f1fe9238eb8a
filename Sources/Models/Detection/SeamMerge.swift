import Engine
import Tiling

/// A detection placed in the whole raster: its box in raster pixels and the tile that saw it.
public struct PlacedDetection: Hashable, Sendable {
    public var detection: Detection
    public var tile: Int
    public var window: Window

    public init(detection: Detection, tile: Int, window: Window) { (self.detection, self.tile, self.window) = (detection, tile, window) }

    /// Whether the box touches an edge of its tile that lies inside the raster: the object
    /// may go on in the neighbour, which then sees more of it.
    public func isCut(rasterWidth: Int, rasterHeight: Int, margin: Float = 1) -> Bool {
        let b = detection.box, w = window
        return (w.colOff > 0 && b.x1 <= Float(w.colOff) + margin)
            || (w.rowOff > 0 && b.y1 <= Float(w.rowOff) + margin)
            || (w.colEnd < rasterWidth && b.x2 >= Float(w.colEnd) - margin)
            || (w.rowEnd < rasterHeight && b.y2 >= Float(w.rowEnd) - margin)
    }
}

/// Merges detections across overlapping tiles: per class, boxes that describe the same
/// object are one. Boxes a tile sees whole come before boxes cut by a tile edge, then by
/// score; a box is dropped when a kept one of its class overlaps it by IoU above
/// `iou`, or, for a cut box, covers more than `iou` of it (a cut box is a part of the
/// object, so its IoU with the whole can be small).
public enum SeamMerge {
    public static func merge(_ detections: [PlacedDetection], rasterWidth: Int, rasterHeight: Int, iou: Float, cell: Int)
        -> [PlacedDetection]
    {
        let cut = detections.map { $0.isCut(rasterWidth: rasterWidth, rasterHeight: rasterHeight) }
        let order = detections.indices.sorted {
            cut[$0] != cut[$1] ? !cut[$0] : detections[$0].detection.score > detections[$1].detection.score
        }
        return greedy(detections, order: order, cell: cell) { i, k in
            let d = detections[i].detection, other = detections[k].detection.box
            guard detections[k].detection.label == d.label else { return false }
            if d.box.iou(other) > iou { return true }
            guard cut[i] else { return false }
            let w = max(0, min(d.box.x2, other.x2) - max(d.box.x1, other.x1))
            let h = max(0, min(d.box.y2, other.y2) - max(d.box.y1, other.y1))
            return w * h > iou * d.box.area
        }
    }

    /// DeepForest's mosaic: one non-maximum suppression over every tile's boxes, all
    /// classes together: by decreasing score, a box is dropped when a kept one overlaps
    /// it by IoU above `iou` (torchvision's `nms` on float32 boxes, as DeepForest's
    /// `mosiac` calls it: the IoU in float32 against the threshold as a double, see
    /// ``NMS/threshold(_:)``; found through a grid of `cell` px so that a million boxes
    /// stay fast).
    public static func mosaic(_ detections: [PlacedDetection], iou: Double, cell: Int) -> [PlacedDetection] {
        let limit = NMS.threshold(iou)
        let order = detections.indices.sorted {
            let a = detections[$0].detection.score, b = detections[$1].detection.score
            return a > b || (a == b && $0 < $1)
        }
        let kept = greedy(detections, order: order, cell: cell) { i, k in
            detections[i].detection.box.iou(detections[k].detection.box) > limit
        }
        return kept.sorted {
            let a = $0.detection.score, b = $1.detection.score
            return a > b || (a == b && $0.tile < $1.tile)
        }
    }

    /// Visits `order`, keeping each detection that no kept one suppresses; kept boxes are
    /// filed by grid cell, so a candidate meets only its neighbours. Returns them in input order.
    private static func greedy(
        _ detections: [PlacedDetection], order: [Int], cell: Int, suppresses: (_ candidate: Int, _ kept: Int) -> Bool
    ) -> [PlacedDetection] {
        let cell = max(cell, 1)
        var grid: [Int64: [Int]] = [:]
        func cells(_ b: Box) -> [Int64] {
            let c0 = Int64(max(b.x1, 0)) / Int64(cell), c1 = Int64(max(b.x2, 0)) / Int64(cell)
            let r0 = Int64(max(b.y1, 0)) / Int64(cell), r1 = Int64(max(b.y2, 0)) / Int64(cell)
            return (r0...r1).flatMap { r in (c0...c1).map { r << 32 | $0 } }
        }
        var kept: [Int] = []
        for i in order {
            let boxCells = cells(detections[i].detection.box)
            let duplicate = boxCells.contains { c in (grid[c] ?? []).contains { suppresses(i, $0) } }
            guard !duplicate else { continue }
            kept.append(i)
            for c in boxCells { grid[c, default: []].append(i) }
        }
        return kept.sorted().map { detections[$0] }
    }
}
