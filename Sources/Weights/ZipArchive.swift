/// The stored (uncompressed) entries of a zip file, as `torch.save` writes them:
/// the end-of-central-directory record (zip64 too) locates the central directory,
/// each entry's local header locates its bytes. Nothing is inflated: torch never
/// compresses, and a compressed entry is reported rather than guessed at.
struct ZipArchive {
    struct Entry {
        var name: String
        var range: Range<Int>
    }

    let entries: [String: Entry]

    init(_ bytes: UnsafeRawBufferPointer, path: String) throws(WeightsError) {
        func fail(_ reason: String) -> WeightsError { .malformed(path: path, reason: "zip: \(reason)") }
        func u16(_ at: Int) throws(WeightsError) -> Int {
            guard at >= 0, at + 2 <= bytes.count else { throw fail("truncated (a record runs past the end)") }
            return Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
        }
        func u32(_ at: Int) throws(WeightsError) -> Int {
            guard at >= 0, at + 4 <= bytes.count else { throw fail("truncated (a record runs past the end)") }
            return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        func u64(_ at: Int) throws(WeightsError) -> Int {
            guard at >= 0, at + 8 <= bytes.count else { throw fail("truncated (a record runs past the end)") }
            let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            guard v < UInt64(Int.max) else { throw fail("an offset is out of range") }
            return Int(v)
        }

        // The end record is in the last 22 + 65535 bytes (it may carry a comment).
        guard bytes.count >= 22 else { throw fail("too short to be a zip file") }
        var end = -1
        for at in stride(from: bytes.count - 22, through: max(0, bytes.count - 22 - 65535), by: -1)
        where try u32(at) == 0x0605_4b50 {
            end = at
            break
        }
        guard end >= 0 else { throw fail("no end-of-central-directory record (truncated or not a zip)") }
        var count = try u16(end + 10)
        var directory = try u32(end + 16)
        if count == 0xFFFF || directory == 0xFFFF_FFFF {
            let locator = end - 20
            guard try u32(locator) == 0x0706_4b50 else { throw fail("zip64 locator missing") }
            let record = try u64(locator + 8)
            guard try u32(record) == 0x0606_4b50 else { throw fail("zip64 end record missing") }
            count = try u64(record + 32)
            directory = try u64(record + 48)
        }

        var entries: [String: Entry] = [:]
        var at = directory
        for _ in 0..<count {
            guard try u32(at) == 0x0201_4b50 else { throw fail("central directory entry damaged") }
            let method = try u16(at + 10)
            var size = try u32(at + 20)
            let nameLength = try u16(at + 28), extraLength = try u16(at + 30), commentLength = try u16(at + 32)
            var local = try u32(at + 42)
            guard at + 46 + nameLength <= bytes.count else { throw fail("truncated central directory") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(at + 46)..<(at + 46 + nameLength)]), as: UTF8.self)
            // Zip64 sizes and offsets live in extra field 0x0001, in this order, when 0xFFFFFFFF above.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try u16(extra), length = try u16(extra + 2)
                if id == 1 {
                    var field = extra + 4
                    if try u32(at + 24) == 0xFFFF_FFFF { field += 8 }  // uncompressed size
                    if size == 0xFFFF_FFFF { size = try u64(field); field += 8 }
                    if local == 0xFFFF_FFFF { local = try u64(field) }
                }
                extra += 4 + length
            }
            guard method == 0 else { throw fail("entry \(name) is compressed (method \(method)); torch.save never compresses") }
            guard try u32(local) == 0x0403_4b50 else { throw fail("local header of \(name) damaged") }
            let start = local + 30 + (try u16(local + 26)) + (try u16(local + 28))
            guard let end = CheckedSize.sum(start, size), end <= bytes.count else {
                throw fail("entry \(name) runs past the end (truncated file)")
            }
            entries[name] = Entry(name: name, range: start..<end)
            at += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }
}
