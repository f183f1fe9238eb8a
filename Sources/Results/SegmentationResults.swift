import Configuration
import Foundation
import Raster
import Tiling

/// A segmentation's final results from every rank's part: the class raster (a COG in
/// the input's grid and CRS, see ``ClassRasterWriter``; pixels without data, in the
/// input or in no tile, are its nodata), `<output>.classes.csv` (each class's pixels and
/// area in the CRS's units) and, when asked, `<output>.probabilities.tif`. Cells are
/// placed one at a time, read from the parts' pixel files: memory holds one cell and
/// the pieces of its neighbours, never the raster.
enum SegmentationResults {
    /// A row's piece and the part that holds it.
    struct Located {
        var piece: SegmentationPart.Piece
        var part: String
    }

    /// Every row of the parts, by the cell its pixels lie in.
    struct Pieces {
        var ids: [Int: Located] = [:]
        /// A cell's own probabilities: the whole cell, or (`stitch=blend` alone) the
        /// pixels neighbours' windows reach.
        var probabilities: [Int: [Located]] = [:]
        var neighbours: [Int: [Located]] = [:]
    }

    static func write(_ parts: ResultsParts, to output: String, raster: RasterContext?, labels: [String]?) throws -> Int {
        guard let raster else {
            throw ResultsError.writeFailed(path: output, reason: "a class raster needs the input raster's grid; this run read dummy tiles")
        }
        let classes = raster.classes ?? labels?.count ?? 0
        guard classes > 0 else {
            throw ResultsError.writeFailed(path: output, reason: "the run's status does not record how many classes the model scores")
        }
        let layout = raster.segmentation
        let pieces = try gathered(parts, raster: raster, output: output)
        let names = labels.map { labels in (0..<classes).map { $0 < labels.count ? labels[$0] : String($0) } }
        let transform = GeoTransform(raster.geotransform)
        let georeference = Georeference(transform: transform, crsWKT: raster.crsWKT)
        let writer = try ClassRasterWriter(
            path: output, width: raster.width, height: raster.height, classes: classes, names: names, georeference: georeference)
        let probabilityWriter = layout.probabilities == .none ? nil : try ProbabilityRasterWriter(
            path: probabilitiesPath(output), width: raster.width, height: raster.height, classes: classes,
            float: layout.probabilities == .float, names: names, georeference: georeference)
        var counts = [Int](repeating: 0, count: classes)
        for (cell, located) in pieces.ids.sorted(by: { $0.key < $1.key }) {
            let (piece, part) = (located.piece, located.part)
            var ids = try SegmentationPart.ids(of: piece, part: part)
            if layout.keepsProbabilities {
                var (probabilities, covered) = try own(pieces.probabilities[cell] ?? [], cell: piece.region, classes: classes)
                if layout.probabilities != .none && covered.contains(false) {
                    throw ResultsError.writeFailed(
                        path: output, reason: "\(part): tile \(piece.tile)'s probabilities do not cover its cell, and the run writes them")
                }
                if layout.stitch == .blend {
                    try blend(&probabilities, ids: &ids, cell: piece.region, window: piece.window, covered: covered,
                              neighbours: pieces.neighbours[cell] ?? [], classes: classes, part: part, tile: piece.tile)
                }
                let area = piece.region.area
                for p in 0..<area where ids[p] == ClassMap.missing {
                    for c in 0..<classes { probabilities[c * area + p] = .nan }
                }
                try probabilityWriter?.write(piece.region, probabilities: probabilities)
            }
            for id in ids where id != ClassMap.missing {
                guard Int(id) < classes else {
                    throw ResultsError.writeFailed(path: output, reason: "\(part): tile \(piece.tile) holds class id \(id) of \(classes) classes")
                }
                counts[Int(id)] += 1
            }
            try writer.write(piece.region, ids: ids.map { $0 == ClassMap.missing ? UInt16(writer.nodata) : $0 })
        }
        try writer.finish()
        try probabilityWriter?.finish()
        try AtomicFile.write(table(counts, names: names, pixelArea: abs(transform.pixelWidth * transform.pixelHeight - transform.rowRotation * transform.columnRotation)), to: classesTable(output))
        return parts.rows.count
    }

    /// The parts' rows as pieces, each checked against the grid: inside the raster and
    /// inside the cell it names.
    static func gathered(_ parts: ResultsParts, raster: RasterContext, output: String) throws -> Pieces {
        let grid = raster.grid
        var pieces = Pieces()
        for tile in parts.rows.keys.sorted() {
            guard let part = parts.partPaths[tile] else { continue }
            for row in parts.rows[tile]! {
                guard let piece = SegmentationPart.piece(in: row) else {
                    throw ResultsError.damagedRow(path: part, line: 0, text: String(row.prefix(80)))
                }
                guard piece.cellTile < grid.count,
                      grid.nearestCell(at: piece.cellTile).intersection(piece.region) == piece.region else {
                    throw ResultsError.writeFailed(
                        path: output,
                        reason: "\(part): tile \(tile)'s pixels \(piece.region) are not in the cell of tile \(piece.cellTile) "
                            + "of the \(raster.width)x\(raster.height) raster's grid")
                }
                let located = Located(piece: piece, part: part)
                switch (piece.values, piece.cellTile == piece.tile) {
                case (.ids, _): pieces.ids[piece.cellTile] = located
                case (_, true): pieces.probabilities[piece.cellTile, default: []].append(located)
                case (_, false): pieces.neighbours[piece.cellTile, default: []].append(located)
                }
            }
        }
        return pieces
    }

    /// A cell's own probabilities (a plane of the cell per class) from its pieces, and
    /// which of its pixels they cover: all of them, or where neighbours' windows reach.
    static func own(_ pieces: [Located], cell: Window, classes: Int) throws -> (values: [Float], covered: [Bool]) {
        let area = cell.area
        if pieces.count == 1, pieces[0].piece.region == cell {
            let whole = try SegmentationPart.probabilities(of: pieces[0].piece, classes: classes, part: pieces[0].part)
            return (whole, [Bool](repeating: true, count: area))
        }
        var values = [Float](repeating: 0, count: area * classes), covered = [Bool](repeating: false, count: area)
        for located in pieces {
            let region = located.piece.region
            let piece = try SegmentationPart.probabilities(of: located.piece, classes: classes, part: located.part)
            for y in region.rowOff..<region.rowEnd {
                for x in region.colOff..<region.colEnd {
                    let p = (y - cell.rowOff) * cell.width + (x - cell.colOff)
                    let q = (y - region.rowOff) * region.width + (x - region.colOff)
                    covered[p] = true
                    for c in 0..<classes { values[c * area + p] = piece[c * region.area + q] }
                }
            }
        }
        return (values, covered)
    }

    /// `stitch=blend` over one cell: each pixel's probabilities become the mean of every
    /// window's that covers it, weighted by ``tent(_:_:)`` in both directions, and its
    /// class the largest of them (the first of equal ones). Pixels no neighbour reaches
    /// keep their own window's, and pixels without data their mark. The cell's own
    /// probabilities (`window`'s) must cover every pixel a neighbour reaches.
    static func blend(
        _ probabilities: inout [Float], ids: inout [UInt16], cell: Window, window: Window, covered: [Bool],
        neighbours: [Located], classes: Int, part: String, tile: Int
    ) throws {
        let area = cell.area
        var sum = [Float](repeating: 0, count: area * classes)
        var weights = [Float](repeating: 0, count: area)
        func weight(_ window: Window, x: Int, y: Int) -> Float {
            tent(y - window.rowOff, window.height) * tent(x - window.colOff, window.width)
        }
        for neighbour in neighbours {
            let values = try SegmentationPart.probabilities(of: neighbour.piece, classes: classes, part: neighbour.part)
            let region = neighbour.piece.region
            for y in region.rowOff..<region.rowEnd {
                for x in region.colOff..<region.colEnd {
                    let w = weight(neighbour.piece.window, x: x, y: y)
                    let p = (y - cell.rowOff) * cell.width + (x - cell.colOff)
                    let q = (y - region.rowOff) * region.width + (x - region.colOff)
                    weights[p] += w
                    for c in 0..<classes { sum[c * area + p] += w * values[c * region.area + q] }
                }
            }
        }
        for y in cell.rowOff..<cell.rowEnd {
            for x in cell.colOff..<cell.colEnd {
                let p = (y - cell.rowOff) * cell.width + (x - cell.colOff)
                guard weights[p] > 0 else { continue }
                guard covered[p] else {
                    throw ResultsError.writeFailed(
                        path: part, reason: "tile \(tile) holds no probabilities at pixel (\(x), \(y)), which its neighbours' windows "
                            + "reach; the part was cut or altered")
                }
                let w = weight(window, x: x, y: y), total = weights[p] + w
                var best = 0
                for c in 0..<classes {
                    let blended = (sum[c * area + p] + w * probabilities[c * area + p]) / total
                    probabilities[c * area + p] = blended
                    if blended > probabilities[best * area + p] { best = c }
                }
                if ids[p] != ClassMap.missing { ids[p] = UInt16(best) }
            }
        }
    }

    /// A window's blend weight at offset `i` of `length` along one axis: the distance
    /// to its nearer edge, counting the edge pixel as 1.
    static func tent(_ i: Int, _ length: Int) -> Float { Float(min(i + 1, length - i)) }

    /// `<output minus extension>.classes.csv`, beside the raster.
    static func classesTable(_ output: String) -> String { (output as NSString).deletingPathExtension + ".classes.csv" }

    /// `<output minus extension>.probabilities.tif`, beside the raster.
    static func probabilitiesPath(_ output: String) -> String { (output as NSString).deletingPathExtension + ".probabilities.tif" }

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
