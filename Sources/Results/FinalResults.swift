import Engine
import Configuration
import Foundation
import Models
import Raster
import Tiling

/// The final results file, written by rank 0 (or `mgpr merge`) from every rank's part:
/// a classifier's CSV as it is, or detections merged across tiles and written as a
/// GeoPackage, GeoJSON (box polygons in the raster's CRS) or DeepForest's CSV.
public enum FinalResults {
    /// DeepForest's columns (boxes in the raster's pixels, the image's file name, the box
    /// as WKT in pixels, as its predict_tile returns them), then the tile that saw it: a
    /// detector's final CSV. Boxes in the raster's CRS are what GeoPackage and GeoJSON are for.
    public static let deepForestHeader = "xmin,ymin,xmax,ymax,label,score,image_path,geometry,tile"

    /// Writes `output`; returns the rows (tiles or boxes) written. `labels` names the
    /// model's classes by index, when its weights name them.
    public static func write(_ parts: ResultsParts, to output: String, raster: RasterContext?, labels: [String]?) throws -> Int {
        if parts.format == .detection {
            // DeepForest's mosaic sees whole pixels: its predict_tile truncates before the NMS.
            let found = parts.detections(wholePixels: raster?.merge == .mosaic)
            return try writeDetections(found, to: output, raster: raster, labels: labels)
        }
        if parts.format == .segmentation { return try SegmentationResults.write(parts, to: output, raster: raster, labels: labels) }
        var text = parts.format.map { "\($0.header)\n" } ?? ""
        for tile in parts.rows.keys.sorted() { for row in parts.rows[tile]! { text += row + "\n" } }
        try AtomicFile.write(text, to: output)
        return parts.rows.count
    }

    /// Boxes cut to the raster: a tile reaching past the raster's edge sees zero
    /// padding there, and no box may claim it. Boxes left without area are dropped.
    public static func clipped(_ found: [PlacedDetection], width: Int, height: Int) -> [PlacedDetection] {
        found.compactMap { p in
            var p = p
            p.detection.box = p.detection.box.clipped(width: Float(width), height: Float(height))
            return p.detection.box.width > 0 && p.detection.box.height > 0 ? p : nil
        }
    }

    /// The detections of the whole raster: clipped to it, then merged across tiles as
    /// the run asked (`seams` where tiles overlap; `mosaic` always, as DeepForest does).
    public static func merged(_ found: [PlacedDetection], raster: RasterContext?) -> [PlacedDetection] {
        guard let raster else { return found }
        let found = clipped(found, width: raster.width, height: raster.height)
        if raster.merge == .mosaic { return SeamMerge.mosaic(found, iou: raster.mergeIoU, cell: raster.tileSize) }
        guard raster.overlap > 0 else { return found }
        return SeamMerge.merge(
            found, rasterWidth: raster.width, rasterHeight: raster.height, iou: Float(raster.mergeIoU), cell: raster.tileSize)
    }

    private static func writeDetections(_ found: [PlacedDetection], to output: String, raster: RasterContext?, labels: [String]?) throws -> Int {
        let found = merged(found, raster: raster)
        func name(_ label: Int) -> String? { labels.flatMap { label >= 0 && label < $0.count ? $0[label] : String(label) } }
        let transform = raster.map { GeoTransform($0.geotransform) } ?? .identity
        func corners(_ b: Box) -> [(x: Double, y: Double)] {
            [(b.x1, b.y1), (b.x2, b.y1), (b.x2, b.y2), (b.x1, b.y2)].map { x, y in transform.apply(col: Double(x), row: Double(y)) }
        }
        if let format = BoxLayerWriter.Format(path: output) {
            let writer = try BoxLayerWriter(path: output, format: format, crsWKT: raster?.crsWKT, namedLabels: labels != nil)
            for p in found {
                try writer.add(
                    corners: corners(p.detection.box), label: p.detection.label, name: name(p.detection.label),
                    score: Double(p.detection.score), tile: p.tile)
            }
            try writer.close()
            return found.count
        }
        let image = CSVField.escape(((raster?.imagePath ?? "") as NSString).lastPathComponent)
        var text = deepForestHeader + "\n"
        for p in found {
            let b = p.detection.box, label = name(p.detection.label).map(CSVField.escape) ?? String(p.detection.label)
            // As pandas writes DeepForest's float64 columns: the float32 score widened.
            let score = Double(p.detection.score)
            text += "\(b.x1),\(b.y1),\(b.x2),\(b.y2),\(label),\(score),\(image),\(CSVField.escape(pixelWKT(b))),\(p.tile)\n"
        }
        try AtomicFile.write(text, to: output)
        return found.count
    }

    /// The box as DeepForest's `geometry`: shapely's `box(xmin, ymin, xmax, ymax)` as WKT,
    /// counter-clockwise from (xmax, ymin), numbers without a trailing ".0".
    public static func pixelWKT(_ b: Box) -> String {
        func number(_ v: Float) -> String {
            let text = "\(v)"
            return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
        }
        let ring = [(b.x2, b.y1), (b.x2, b.y2), (b.x1, b.y2), (b.x1, b.y1), (b.x2, b.y1)]
        return "POLYGON ((" + ring.map { "\(number($0.0)) \(number($0.1))" }.joined(separator: ", ") + "))"
    }
}
