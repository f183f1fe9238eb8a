import Foundation

/// Reads `.safetensors`: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw data. The file is memory
/// mapped, so only the tensors used are paged in.
enum SafeTensors {
    static func load(_ path: String) throws(WeightsError) -> [String: HostTensor] {
        try withMappedFile(path) { (bytes: UnsafeRawBufferPointer) throws(WeightsError) in
            guard bytes.count >= 8 else { throw .malformed(path: path, reason: "shorter than its 8-byte header length") }
            let headerLength = Int(UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)))
            guard headerLength > 0, headerLength <= bytes.count - 8 else {
                throw .malformed(path: path, reason: "header length \(headerLength) runs past the end of the file")
            }
            let header = Data(bytes[8..<(8 + headerLength)])
            guard let entries = (try? JSONSerialization.jsonObject(with: header)) as? [String: Any] else {
                throw .malformed(path: path, reason: "the header is not a JSON object")
            }
            let body = UnsafeRawBufferPointer(rebasing: bytes[(8 + headerLength)...])
            var tensors: [String: HostTensor] = [:]
            for (name, value) in entries where name != "__metadata__" {
                guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                    let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                    offsets.count == 2
                else { throw .malformed(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets") }
                guard let dtype = StoredType(rawValue: dtypeName) else {
                    throw .malformed(path: path, reason: "'\(name)' has unsupported dtype \(dtypeName)")
                }
                let count = shape.reduce(1, *)
                guard offsets[0] >= 0, offsets[1] <= body.count, offsets[1] - offsets[0] == count * dtype.byteCount else {
                    throw .malformed(path: path, reason: "'\(name)' byte range \(offsets) does not fit its shape \(shape) or the file")
                }
                let raw = UnsafeRawBufferPointer(rebasing: body[offsets[0]..<offsets[1]])
                tensors[name] = HostTensor(shape: shape, values: dtype.floats(raw, count: count))
            }
            return tensors
        }
    }
}
