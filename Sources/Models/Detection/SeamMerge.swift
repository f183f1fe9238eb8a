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
        // Kept boxes by grid cell, so each candidate meets only its neighbours.
        var grid: [Int: [Int]] = [:]
        let columns = rasterWidth / max(cell, 1) + 2
        func cells(_ b: Box) -> [Int] {
            let c0 = max(Int(b.x1) / cell, 0), c1 = max(Int(b.x2) / cell, 0)
            let r0 = max(Int(b.y1) / cell, 0), r1 = max(Int(b.y2) / cell, 0)
            return (r0...r1).flatMap { r in (c0...c1).map { r * columns + $0 } }
        }
        var kept: [Int] = []
        for i in order {
            let d = detections[i].detection
            var duplicate = false
            search: for c in cells(d.box) {
                for k in grid[c] ?? [] where detections[k].detection.label == d.label {
                    let other = detections[k].detection.box
                    if d.box.iou(other) > iou { duplicate = true; break search }
                    if cut[i] {
                        let w = max(0, min(d.box.x2, other.x2) - max(d.box.x1, other.x1))
                        let h = max(0, min(d.box.y2, other.y2) - max(d.box.y1, other.y1))
                        if w * h > iou * d.box.area { duplicate = true; break search }
                    }
                }
            }
            guard !duplicate else { continue }
            kept.append(i)
            for c in cells(d.box) { grid[c, default: []].append(i) }
        }
        return kept.sorted().map { detections[$0] }
    }
}
