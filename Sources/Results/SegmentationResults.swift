import Foundation
import Raster
import Tiling

/// A segmentation's final results from every rank's part: the class raster (a COG in
/// the input's grid and CRS, see ``ClassRasterWriter``; pixels without data, in the
/// input or in no tile, are its nodata) and `<output>.classes.csv`, each class's pixels
/// and area in the CRS's units. Tiles are placed one at a time, their
/// cells read from the parts' pixel files: memory holds one cell, never the raster.
enum SegmentationResults {
    static func write(_ parts: ResultsParts, to output: String, raster: RasterContext?, labels: [String]?) throws -> Int {
        guard let raster else {
            throw ResultsError.writeFailed(path: output, reason: "a class raster needs the input raster's grid; this run read dummy tiles")
        }
        let classes = raster.classes ?? labels?.count ?? 0
        guard classes > 0 else {
            throw ResultsError.writeFailed(path: output, reason: "the run's status does not record how many classes the model scores")
        }
        let names = labels.map { labels in (0..<classes).map { $0 < labels.count ? labels[$0] : String($0) } }
        let transform = GeoTransform(raster.geotransform)
        let writer = try ClassRasterWriter(
            path: output, width: raster.width, height: raster.height, classes: classes, names: names,
            georeference: Georeference(transform: transform, crsWKT: raster.crsWKT))
        var counts = [Int](repeating: 0, count: classes)
        for tile in parts.rows.keys.sorted() {
            guard let part = parts.partPaths[tile] else { continue }
            for row in parts.rows[tile]! {
                guard let cell = SegmentationPart.cell(in: row) else {
                    throw ResultsError.damagedRow(path: part, line: 0, text: String(row.prefix(80)))
                }
                guard cell.window.colOff + cell.window.width <= raster.width, cell.window.rowOff + cell.window.height <= raster.height else {
                    throw ResultsError.writeFailed(path: output, reason: "\(part): tile \(tile)'s cell lies outside the \(raster.width)x\(raster.height) raster")
                }
                let ids = try SegmentationPart.ids(of: cell, part: part)
                for id in ids where id != ClassMap.missing {
                    guard Int(id) < classes else {
                        throw ResultsError.writeFailed(path: output, reason: "\(part): tile \(tile) holds class id \(id) of \(classes) classes")
                    }
                    counts[Int(id)] += 1
                }
                try writer.write(cell.window, ids: ids.map { $0 == ClassMap.missing ? UInt16(writer.nodata) : $0 })
            }
        }
        try writer.finish()
        try AtomicFile.write(table(counts, names: names, pixelArea: abs(transform.pixelWidth * transform.pixelHeight - transform.rowRotation * transform.columnRotation)), to: classesTable(output))
        return parts.rows.count
    }

    /// `<output minus extension>.classes.csv`, beside the raster.
    static func classesTable(_ output: String) -> String { (output as NSString).deletingPathExtension + ".classes.csv" }

    static func table(_ counts: [Int], names: [String]?, pixelArea: Double) -> String {
        let total = counts.reduce(0, +)
        var text = "class,name,pixels,area,fraction\n"
        for (id, count) in counts.enumerated() {
            let name = names.map { CSVField.escape($0[id]) } ?? ""
            text += "\(id),\(name),\(count),\(Double(count) * pixelArea),\(total > 0 ? Double(count) / Double(total) : 0)\n"
        }
        return text
    }
}
