import Foundation
import Synchronization
import Tiling

/// `output=PATH.csv` for classifiers: one row per tile, written as batches finish,
/// never all held in memory. Bounds are in the raster's CRS (pixels without one).
public final class ClassificationCSV: Sendable {
    public static let header = "tile,col_off,row_off,width,height,class,score,minx,miny,maxx,maxy"
    public let path: String
    private let file: Mutex<FileHandle?>

    /// - Parameter append: continue an existing file (a resumed run) instead of starting anew.
    public init(path: String, append: Bool = false) throws {
        self.path = path
        let continuing = append && FileManager.default.fileExists(atPath: path)
        guard continuing || FileManager.default.createFile(atPath: path, contents: Data((Self.header + "\n").utf8)),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw SinkError.cannotCreate(path: path) }
        try handle.seekToEnd()
        file = Mutex(handle)
    }

    /// Appends the rows of one batch.
    public func write(_ batch: Batch, _ outputs: [TileOutput]) throws {
        var text = ""
        for (info, output) in zip(batch.tiles, outputs) {
            guard case .classification(let classIndex, let score) = output else { continue }
            let w = info.window, b = info.bounds
            text += "\(info.index),\(w.colOff),\(w.rowOff),\(w.width),\(w.height),\(classIndex),\(score),"
            // 12 significant digits: sub-millimetre in metres or degrees, without the
            // float noise of the geotransform arithmetic (3285120.5000000005).
            text += [b.minX, b.minY, b.maxX, b.maxY].map { String(format: "%.12g", $0) }.joined(separator: ",") + "\n"
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

public enum SinkError: Error, CustomStringConvertible {
    case cannotCreate(path: String)
    case closed(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path): "output=\(path): cannot create the file (does its folder exist, is it writable?)"
        case .closed(let path): "output \(path) was written after it was closed"
        case .writeFailed(let path, let reason): "writing results to \(path) failed: \(reason)"
        }
    }
}
