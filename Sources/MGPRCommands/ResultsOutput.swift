import Cluster
import Foundation
import Models
import Pipeline
import Raster
import Tiling

/// The final results file, written by rank 0 (or `mgpr merge`) from every rank's part:
/// a classifier's CSV as it is, or detections merged across tile seams and written as a
/// GeoPackage, GeoJSON (box polygons in the raster's CRS) or DeepForest-style CSV.
enum ResultsOutput {
    /// Writes `output`; returns the rows (tiles or boxes) written.
    static func write(header: String?, rows: [Int: [Substring]], to output: String, raster: RasterContext?) throws -> Int {
        if header == DetectionCSV.header { return try writeDetections(rows, to: output, raster: raster) }
        var text = header.map { "\($0)\n" } ?? ""
        for tile in rows.keys.sorted() { for row in rows[tile]! { text += row + "\n" } }
        try Gather.writeAtomically(text, to: output)
        return rows.count
    }

    static func detections(_ rows: [Int: [Substring]]) -> [PlacedDetection] {
        rows.keys.sorted().flatMap { tile in
            rows[tile]!.compactMap { row -> PlacedDetection? in
                let f = row.split(separator: ",", omittingEmptySubsequences: false)
                guard f.count == 11, let x1 = Float(f[5]), let y1 = Float(f[6]), let x2 = Float(f[7]), let y2 = Float(f[8]),
                    let label = Int(f[9]), let score = Float(f[10]), let c = Int(f[1]), let r = Int(f[2]), let w = Int(f[3]),
                    let h = Int(f[4])
                else { return nil }  // a tile's "no detections" row
                return PlacedDetection(
                    detection: Detection(box: Box(x1, y1, x2, y2), label: label, score: score), tile: tile,
                    window: Window(colOff: c, rowOff: r, width: w, height: h))
            }
        }
    }

    /// Boxes cut to the raster: a tile reaching past the raster's edge sees zero
    /// padding there, and no box may claim it. Boxes left without area are dropped.
    static func clipped(_ found: [PlacedDetection], width: Int, height: Int) -> [PlacedDetection] {
        found.compactMap { p in
            var p = p
            p.detection.box = p.detection.box.clipped(width: Float(width), height: Float(height))
            return p.detection.box.width > 0 && p.detection.box.height > 0 ? p : nil
        }
    }

    private static func writeDetections(_ rows: [Int: [Substring]], to output: String, raster: RasterContext?) throws -> Int {
        var found = detections(rows)
        if let raster { found = clipped(found, width: raster.width, height: raster.height) }
        if let raster, raster.overlap > 0 {
            found = SeamMerge.merge(
                found, rasterWidth: raster.width, rasterHeight: raster.height, iou: Float(raster.mergeIoU), cell: raster.tileSize)
        }
        if let format = BoxLayerWriter.Format(path: output) {
            let transform = raster.map { GeoTransform($0.geotransform) } ?? .identity
            let writer = try BoxLayerWriter(path: output, format: format, crsWKT: raster?.crsWKT)
            for p in found {
                let b = p.detection.box
                let corners = [(b.x1, b.y1), (b.x2, b.y1), (b.x2, b.y2), (b.x1, b.y2)].map { x, y in
                    transform.apply(col: Double(x), row: Double(y))
                }
                try writer.add(corners: corners, label: p.detection.label, score: Double(p.detection.score), tile: p.tile)
            }
            try writer.close()
            return found.count
        }
        // DeepForest's columns, in the raster's pixels, and the tile.
        let image = CSVField.escape(raster?.imagePath ?? "")
        var text = "image_path,xmin,ymin,xmax,ymax,label,score,tile\n"
        for p in found {
            let b = p.detection.box
            text += "\(image),\(b.x1),\(b.y1),\(b.x2),\(b.y2),\(p.detection.label),\(p.detection.score),\(p.tile)\n"
        }
        try Gather.writeAtomically(text, to: output)
        return found.count
    }
}
