import Foundation
import Tiling

/// A classifier's results part, and its final CSV as well: one row per tile, bounds
/// in the raster's CRS (pixels without one).
public struct ClassificationPart: ResultsSink {
    public static let header = "tile,col_off,row_off,width,height,class,score,minx,miny,maxx,maxy"
    public let file: ResultsFile

    /// - Parameter append: continue an existing file (a resumed run) instead of starting anew.
    public init(path: String, append: Bool = false) throws {
        file = try ResultsFile(path: path, header: Self.header, append: append)
    }

    public func write(_ tiles: [TileInfo], _ outputs: [TileOutput]) throws -> [WrittenRows] {
        var text = ""
        var written: [WrittenRows] = []
        for (info, output) in zip(tiles, outputs) {
            var row = ""
            if case .classification(let classIndex, let score) = output {
                let w = info.window, b = info.bounds
                row = "\(info.index),\(w.colOff),\(w.rowOff),\(w.width),\(w.height),\(classIndex),\(score),"
                // 12 significant digits: sub-millimetre in metres or degrees, without the
                // float noise of the geotransform arithmetic (3285120.5000000005).
                row += [b.minX, b.minY, b.maxX, b.maxY].map { String(format: "%.12g", $0) }.joined(separator: ",") + "\n"
            }
            written.append(WrittenRows(text: row))
            text += row
        }
        try file.append(text)
        return written
    }

    public func close() throws { try file.close() }

    /// The top class of a row as written above; nil for anything else.
    public static func topClass(in row: Substring) -> Int? {
        let f = row.split(separator: ",", omittingEmptySubsequences: false)
        return f.count == 11 ? Int(f[5]) : nil
    }
}
