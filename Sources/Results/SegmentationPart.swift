import Foundation
import Platform
import Raster
import Synchronization
import Tiling

/// A rank's segmentation as tiles finish. Each tile fills its cell of the raster (the
/// pixels where it lies farthest from a window edge, so overlapping windows leave no
/// seam); the cell's class ids, 16 bits each, deflated, are appended to `classes.bin`
/// beside the part, and one row says where:
/// `tile,col_off,row_off,width,height,cell_col,cell_row,cell_width,cell_height,offset,bytes,digest`
/// (the digest, FNV-1a of the compressed bytes, in 16 hex digits). The pixels are synced
/// before the row and the row before the journal line, so a journaled tile's pixels are
/// on disk and held to its row, which the journal holds to its digest.
public struct SegmentationPart: ResultsSink {
    public static let header =
        "tile,col_off,row_off,width,height,cell_col,cell_row,cell_width,cell_height,offset,bytes,digest"

    public let file: ResultsFile
    private let pixels: PixelFile
    private let cell: @Sendable (TileInfo) -> Window

    /// - Parameter cell: the raster pixels a tile's result fills (``TileGrid/nearestCell(at:)``).
    public init(path: String, append: Bool = false, cell: @escaping @Sendable (TileInfo) -> Window) throws {
        file = try ResultsFile(path: path, header: Self.header, append: append)
        pixels = try PixelFile(path: Self.pixelsPath(part: path), append: append)
        self.cell = cell
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
            let w = info.window, c = cell(info)
            let ids = map.crop(x: c.colOff - w.colOff, y: c.rowOff - w.rowOff, width: c.width, height: c.height)
            let compressed = Deflate.compress(ids.withUnsafeBytes { Array($0) })
            let offset = try pixels.append(compressed)
            let row = "\(info.index),\(w.colOff),\(w.rowOff),\(w.width),\(w.height),\(c.colOff),\(c.rowOff),\(c.width),\(c.height),"
                + "\(offset),\(compressed.count),\(Self.hex(WrittenRows.digest(bytes: compressed)))\n"
            written.append(WrittenRows(text: row))
            text += row
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

    /// Where one tile's cell is and where its pixels are stored, read from its row.
    public struct Cell: Sendable, Equatable {
        public var window: Window
        public var offset: Int
        public var bytes: Int
        public var digest: UInt64
    }

    /// The cell of a row as written above; nil for anything else.
    public static func cell(in row: Substring) -> Cell? {
        let f = row.split(separator: ",", omittingEmptySubsequences: false)
        guard f.count == 12, let x = Int(f[5]), let y = Int(f[6]), let w = Int(f[7]), let h = Int(f[8]),
              let offset = Int(f[9]), let bytes = Int(f[10]), let digest = UInt64(f[11], radix: 16),
              x >= 0, y >= 0, w > 0, h > 0, offset >= 0, bytes > 0
        else { return nil }
        return Cell(window: Window(colOff: x, rowOff: y, width: w, height: h), offset: offset, bytes: bytes, digest: digest)
    }

    /// The class ids of `cell`, read from the pixels of the part at `part` and held to
    /// the row's digest.
    public static func ids(of cell: Cell, part: String) throws(ResultsError) -> [UInt16] {
        let path = pixelsPath(part: part)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unreadable(path: path, reason: "it does not exist, and \(part) lists tiles whose class ids it holds")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            try handle.seek(toOffset: UInt64(cell.offset))
            data = try handle.read(upToCount: cell.bytes) ?? Data()
        } catch {
            throw .unreadable(path: path, reason: SystemError.reason(error))
        }
        let compressed = [UInt8](data)
        guard compressed.count == cell.bytes, WrittenRows.digest(bytes: compressed) == cell.digest,
              let raw = Deflate.decompress(compressed, count: cell.window.area * 2)
        else {
            throw .unreadable(
                path: path,
                reason: "the class ids at byte \(cell.offset) (\(cell.bytes) bytes) are not what \(part) recorded; "
                    + "the file was cut or altered")
        }
        return raw.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
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
