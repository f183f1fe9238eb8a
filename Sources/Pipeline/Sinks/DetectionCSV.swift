import Models
import Tiling

/// A rank's detections as they finish, one row per box in the whole raster's pixels
/// with the window of the tile that saw it (the cross-tile merge needs it):
/// `tile,col_off,row_off,width,height,xmin,ymin,xmax,ymax,label,score`.
public struct DetectionCSV: Sendable {
    public static let header = "tile,col_off,row_off,width,height,xmin,ymin,xmax,ymax,label,score"
    public let file: ResultsFile

    public init(path: String, append: Bool = false) throws {
        file = try ResultsFile(path: path, header: Self.header, append: append)
    }

    public func write(_ batch: Batch, _ outputs: [TileOutput]) throws {
        var text = ""
        for (info, output) in zip(batch.tiles, outputs) {
            guard case .detections(let found) = output else { continue }
            let w = info.window, x = Float(w.colOff), y = Float(w.rowOff)
            let tile = "\(info.index),\(w.colOff),\(w.rowOff),\(w.width),\(w.height)"
            for d in found {
                text += "\(tile),\(d.box.x1 + x),\(d.box.y1 + y),\(d.box.x2 + x),\(d.box.y2 + y),\(d.label),\(d.score)\n"
            }
            // A tile without detections still leaves a row, so the merge knows it was done.
            if found.isEmpty { text += "\(tile),,,,,,\n" }
        }
        try file.append(text)
    }

    public func close() throws { try file.close() }
}
