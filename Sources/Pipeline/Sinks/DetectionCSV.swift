import Foundation
import Models
import Synchronization
import Tiling

/// A rank's detections as they finish, one row per box in the whole raster's pixels
/// with the window of the tile that saw it (the cross-tile merge needs it):
/// `tile,col_off,row_off,width,height,xmin,ymin,xmax,ymax,label,score`.
public final class DetectionCSV: Sendable {
    public static let header = "tile,col_off,row_off,width,height,xmin,ymin,xmax,ymax,label,score"
    public let path: String
    private let file: Mutex<FileHandle?>

    public init(path: String, append: Bool = false) throws {
        self.path = path
        let continuing = append && FileManager.default.fileExists(atPath: path)
        guard continuing || FileManager.default.createFile(atPath: path, contents: Data((Self.header + "\n").utf8)),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw SinkError.cannotCreate(path: path) }
        try handle.seekToEnd()
        file = Mutex(handle)
    }

    public func write(_ batch: Batch, _ outputs: [TileOutput]) throws {
        var text = ""
        for (info, output) in zip(batch.tiles, outputs) {
            guard case .detections(let found) = output else { continue }
            let w = info.window
            for d in found {
                let x = Float(w.colOff), y = Float(w.rowOff)
                text += "\(info.index),\(w.colOff),\(w.rowOff),\(w.width),\(w.height),"
                text += "\(d.box.x1 + x),\(d.box.y1 + y),\(d.box.x2 + x),\(d.box.y2 + y),\(d.label),\(d.score)\n"
            }
            // A tile without detections still leaves a row, so the merge knows it was done.
            if found.isEmpty { text += "\(info.index),\(w.colOff),\(w.rowOff),\(w.width),\(w.height),,,,,,\n" }
        }
        try file.withLock { handle in
            guard let handle else { throw SinkError.closed(path: path) }
            do { try handle.write(contentsOf: Data(text.utf8)) } catch {
                throw SinkError.writeFailed(path: path, reason: error.localizedDescription)
            }
        }
    }

    public func close() throws {
        try file.withLock { handle in
            try handle?.close()
            handle = nil
        }
    }
}
