import Foundation

/// Reads `.safetensors`: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw data. The file is memory
/// mapped, so only the tensors used are paged in. Every length, shape and range comes
/// from the file: each is checked (overflow-safe) against the file before it is used,
/// and tensors may neither share bytes nor be named twice.
enum SafeTensors {
    static func load(_ path: String) throws(WeightsError) -> [String: HostTensor] {
        try withMappedFile(path) { (bytes: UnsafeRawBufferPointer) throws(WeightsError) in try load(bytes, path: path) }
    }

    static func load(_ bytes: UnsafeRawBufferPointer, path: String) throws(WeightsError) -> [String: HostTensor] {
        func fail(_ reason: String) -> WeightsError { .malformed(path: path, reason: reason) }
        guard bytes.count >= 8 else { throw fail("shorter than its 8-byte header length") }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard declared > 0, declared <= UInt64(bytes.count - 8) else {
            throw fail("header length \(declared) runs past the end of the file")
        }
        let headerLength = Int(declared)
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        if let repeated = JSONObjectKeys.firstRepeated(in: header) {
            throw fail("the header names '\(repeated)' twice")
        }
        guard let entries = (try? JSONSerialization.jsonObject(with: Data(header))) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[(8 + headerLength)...])
        var tensors: [String: HostTensor] = [:]
        var ranges: [(range: Range<Int>, name: String)] = []
        for (name, value) in entries where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                offsets.count == 2
            else { throw fail("entry '\(name)' lacks dtype, shape or data_offsets") }
            guard let dtype = StoredType(rawValue: dtypeName) else { throw fail("'\(name)' has unsupported dtype \(dtypeName)") }
            guard let count = CheckedSize.elements(shape), let byteCount = CheckedSize.product(count, dtype.byteCount) else {
                throw fail("'\(name)' has an impossible shape \(shape)")
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= body.count, offsets[1] - offsets[0] == byteCount else {
                throw fail("'\(name)' byte range \(offsets) does not fit its shape \(shape) or the file")
            }
            ranges.append((offsets[0]..<offsets[1], name))
            let raw = UnsafeRawBufferPointer(rebasing: body[offsets[0]..<offsets[1]])
            tensors[name] = HostTensor(shape: shape, values: dtype.floats(raw, count: count))
        }
        let sorted = ranges.filter { !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw fail("'\(a.name)' and '\(b.name)' share bytes \(b.range.lowerBound)..<\(min(a.range.upperBound, b.range.upperBound))")
        }
        return tensors
    }
}
