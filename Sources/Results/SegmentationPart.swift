import Configuration
import Foundation
import Platform
import Raster
import Synchronization
import Tiling

/// A rank's segmentation as tiles finish. Each tile fills its cell of the raster (the
/// pixels where it lies farthest from a window edge, so overlapping windows leave no
/// seam): its class ids, 16 bits each, deflated, are appended to `classes.bin` beside
/// the part, and a row says where:
/// `tile,col_off,row_off,width,height,cell_tile,cell_col,cell_row,cell_width,cell_height,values,offset,bytes,digest`
/// (`values`: `ids`, or `f16`/`f32` probabilities, a plane per class; the digest, FNV-1a
/// of the compressed bytes, in 16 hex digits). With `probabilities`, a second row holds
/// the cell's; with `stitch=blend`, one more row per neighbouring cell the window
/// reaches into holds the window's probabilities there (`cell_tile` names that cell),
/// and, without `probabilities`, the cell's own are kept only where neighbours' windows
/// reach into it (a row per neighbour): elsewhere the blend is the window's own, whose
/// class the ids already hold. On a 100k px raster with 5% overlap that leaves out
/// most of the probabilities, which compress poorly.
/// The pixels are synced before the rows and the rows before the journal line, so a
/// journaled tile's pixels are on disk and held to its rows, which the journal holds
/// to its digest.
public struct SegmentationPart: ResultsSink {
    public static let header =
        "tile,col_off,row_off,width,height,cell_tile,cell_col,cell_row,cell_width,cell_height,values,offset,bytes,digest"

    public let file: ResultsFile
    private let pixels: PixelFile
    private let layout: SegmentationLayout

    public init(path: String, append: Bool = false, layout: SegmentationLayout) throws {
        file = try ResultsFile(path: path, header: Self.header, append: append)
        pixels = try PixelFile(path: Self.pixelsPath(part: path), append: append)
        self.layout = layout
    }

    /// Where the compressed class ids of the part at `part` are.
    public static func pixelsPath(part: String) -> String {
        ((part as NSString).deletingLastPathComponent as NSString).appendingPathComponent("classes.bin")
    }

    public func write(_ tiles: [TileInfo], _ outputs: [TileOutput]) throws -> [WrittenRows] {
        var text = ""
        var written: [WrittenRows] = []
        for (info, output) in zip(tiles, outputs) {
            guard case .segmentation(let map) = output else {
                written.append(WrittenRows(text: ""))
                continue
            }
            let w = info.window
            var rows = ""
            func store(_ target: Int, _ region: Window, _ values: StoredValues) throws {
                let (x, y) = (region.colOff - w.colOff, region.rowOff - w.rowOff)
                let raw = values == .ids
                    ? map.crop(x: x, y: y, width: region.width, height: region.height).withUnsafeBytes { Array($0) }
                    : values.encode(map.cropProbabilities(x: x, y: y, width: region.width, height: region.height))
                let compressed = Deflate.compress(raw)
                let offset = try pixels.append(compressed)
                rows += "\(info.index),\(w.colOff),\(w.rowOff),\(w.width),\(w.height),\(target),"
                    + "\(region.colOff),\(region.rowOff),\(region.width),\(region.height),\(values.rawValue),"
                    + "\(offset),\(compressed.count),\(Self.hex(WrittenRows.digest(bytes: compressed)))\n"
            }
            let cell = layout.grid.nearestCell(at: info.index)
            try store(info.index, cell, .ids)
            if layout.keepsProbabilities {
                guard map.classes > 0 else { throw SinkError.writeFailed(path: file.path, reason: "the model handed over no probabilities") }
                if layout.probabilities == .none {  // stitch=blend alone
                    for (index, reached) in layout.grid.windows(overlapping: cell) where index != info.index {
                        try store(info.index, reached, layout.stored)
                    }
                } else {
                    try store(info.index, cell, layout.stored)
                }
            }
            if layout.stitch == .blend {
                for (index, shared) in layout.grid.cells(overlapping: w) where index != info.index {
                    try store(index, shared, layout.stored)
                }
            }
            written.append(WrittenRows(text: rows))
            text += rows
        }
        try pixels.sync()
        try file.append(text)
        return written
    }

    public func close() throws {
        try pixels.close()
        try file.close()
    }

    static func hex(_ digest: UInt64) -> String {
        let digits = String(digest, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// One row: the window that made it, the cell its pixels belong to, and where
    /// they are stored.
    public struct Piece: Sendable, Equatable {
        public var tile: Int
        public var window: Window
        /// The tile whose cell the pixels lie in, and the pixels.
        public var cellTile: Int
        public var region: Window
        public var values: StoredValues
        public var offset: Int
        public var bytes: Int
        public var digest: UInt64
    }

    /// The piece a row as written above describes; nil for anything else.
    public static func piece(in row: Substring) -> Piece? {
        let f = row.split(separator: ",", omittingEmptySubsequences: false)
        guard f.count == 14, let tile = Int(f[0]), let wx = Int(f[1]), let wy = Int(f[2]), let ww = Int(f[3]), let wh = Int(f[4]),
              let target = Int(f[5]), let x = Int(f[6]), let y = Int(f[7]), let w = Int(f[8]), let h = Int(f[9]),
              let values = StoredValues(rawValue: String(f[10])),
              let offset = Int(f[11]), let bytes = Int(f[12]), let digest = UInt64(f[13], radix: 16),
              tile >= 0, target >= 0, ww > 0, wh > 0, x >= 0, y >= 0, w > 0, h > 0, offset >= 0, bytes > 0
        else { return nil }
        return Piece(
            tile: tile, window: Window(colOff: wx, rowOff: wy, width: ww, height: wh), cellTile: target,
            region: Window(colOff: x, rowOff: y, width: w, height: h), values: values, offset: offset, bytes: bytes, digest: digest)
    }

    /// The bytes of `piece` (`count` of them once inflated), read from the pixels of the
    /// part at `part` and held to the row's digest.
    static func bytes(of piece: Piece, count: Int, part: String) throws(ResultsError) -> [UInt8] {
        let path = pixelsPath(part: part)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unreadable(path: path, reason: "it does not exist, and \(part) lists tiles whose pixels it holds")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            try handle.seek(toOffset: UInt64(piece.offset))
            data = try handle.read(upToCount: piece.bytes) ?? Data()
        } catch {
            throw .unreadable(path: path, reason: SystemError.reason(error))
        }
        let compressed = [UInt8](data)
        guard compressed.count == piece.bytes, WrittenRows.digest(bytes: compressed) == piece.digest,
              let raw = Deflate.decompress(compressed, count: count)
        else {
            throw .unreadable(
                path: path,
                reason: "the \(piece.values == .ids ? "class ids" : "probabilities") at byte \(piece.offset) (\(piece.bytes) bytes) "
                    + "are not what \(part) recorded; the file was cut or altered")
        }
        return raw
    }

    /// The class ids of an `ids` piece.
    public static func ids(of piece: Piece, part: String) throws(ResultsError) -> [UInt16] {
        let raw = try bytes(of: piece, count: piece.region.area * 2, part: part)
        return raw.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
    }

    /// The probabilities of a probability piece, `classes` planes.
    public static func probabilities(of piece: Piece, classes: Int, part: String) throws(ResultsError) -> [Float] {
        piece.values.decode(try bytes(of: piece, count: piece.region.area * classes * piece.values.bytesPerValue, part: part))
    }
}

/// An append-only binary file whose appends say where they landed.
final class PixelFile: Sendable {
    let path: String
    private let handle: Mutex<FileHandle?>

    init(path: String, append: Bool) throws {
        self.path = path
        handle = Mutex(try ResultsFile.open(path, append: append))
    }

    /// Appends `bytes`; returns the offset they start at.
    func append(_ bytes: [UInt8]) throws -> Int {
        try handle.withLock { file in
            guard let file else { throw SinkError.closed(path: path) }
            do {
                let offset = try file.seekToEnd()
                try file.write(contentsOf: Data(bytes))
                return Int(offset)
            } catch {
                throw SinkError.writeFailed(path: path, reason: SystemError.reason(error))
            }
        }
    }

    func sync() throws {
        try handle.withLock { file in
            do { try file?.synchronize() } catch { throw SinkError.writeFailed(path: path, reason: SystemError.reason(error)) }
        }
    }

    func close() throws {
        try handle.withLock { file in
            try file?.close()
            file = nil
        }
    }
}
