import Engine
import Models
import Tiling

/// A rank's detections as they finish, one row per box in the whole raster's pixels
/// with the window of the tile that saw it (the cross-tile merge needs it):
/// `tile,col_off,row_off,width,height,xmin,ymin,xmax,ymax,label,score`. A tile without
/// detections leaves one row with the box fields empty, so the merge knows it was done.
public struct DetectionPart: ResultsSink {
    public static let header = "tile,col_off,row_off,width,height,xmin,ymin,xmax,ymax,label,score"
    public let file: ResultsFile

    public init(path: String, append: Bool = false) throws {
        file = try ResultsFile(path: path, header: Self.header, append: append)
    }

    public func write(_ tiles: [TileInfo], _ outputs: [TileOutput]) throws -> [WrittenRows] {
        var text = ""
        var written: [WrittenRows] = []
        for (info, output) in zip(tiles, outputs) {
            var rows = ""
            if case .detections(let found) = output {
                let w = info.window, x = Double(w.colOff), y = Double(w.rowOff)
                let tile = "\(info.index),\(w.colOff),\(w.rowOff),\(w.width),\(w.height)"
                // The tile's float32 box plus the window's offset, added in float64 as
                // DeepForest adds them: exact, so a truncation later truncates the true sum.
                for d in found {
                    let b = d.box
                    rows += "\(tile),\(Double(b.x1) + x),\(Double(b.y1) + y),\(Double(b.x2) + x),\(Double(b.y2) + y),\(d.label),\(d.score)\n"
                }
                if found.isEmpty { rows += "\(tile),,,,,,\n" }
            }
            written.append(WrittenRows(text: rows))
            text += rows
        }
        try file.append(text)
        return written
    }

    public func close() throws { try file.close() }

    /// A row as written above: nil for a tile's "no detections" row (and for anything
    /// else that is not a detection). `wholePixels` truncates the coordinates toward zero,
    /// as DeepForest's predict_tile does before its mosaic NMS (`astype(int)`).
    public static func detection(in row: Substring, tile: Int, wholePixels: Bool = false) -> PlacedDetection? {
        let f = row.split(separator: ",", omittingEmptySubsequences: false)
        guard f.count == 11, let c = Int(f[1]), let r = Int(f[2]), let w = Int(f[3]), let h = Int(f[4]),
            let x1 = Double(f[5]), let y1 = Double(f[6]), let x2 = Double(f[7]), let y2 = Double(f[8]),
            let label = Int(f[9]), let score = Float(f[10])
        else { return nil }
        let box = [x1, y1, x2, y2].map { Float(wholePixels ? $0.rounded(.towardZero) : $0) }
        return PlacedDetection(
            detection: Detection(box: Box(box[0], box[1], box[2], box[3]), label: label, score: score), tile: tile,
            window: Window(colOff: c, rowOff: r, width: w, height: h))
    }
}
