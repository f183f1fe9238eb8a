import Foundation

/// NumPy's `.npy` format for float32 arrays in C order: how `mgpr forward` exchanges
/// tensors with PyTorch scripts (`numpy.save` / `numpy.load`).
public enum NPY {
    public struct FormatError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }
        public var description: String { "\(path) is not a float32 .npy file mgpr reads: \(reason)" }
    }

    public static func read(_ path: String) throws -> HostTensor {
        guard let data = FileManager.default.contents(atPath: path) else { throw FormatError(path: path, reason: "cannot be read") }
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) else { throw FormatError(path: path, reason: "no NUMPY magic") }
        let (headerLength, start) = bytes[6] == 1
            ? (Int(bytes[8]) | Int(bytes[9]) << 8, 10)
            : (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24, 12)
        guard bytes.count >= start + headerLength else { throw FormatError(path: path, reason: "truncated header") }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f4'") else { throw FormatError(path: path, reason: "dtype is not little-endian float32 (<f4): \(header)") }
        guard header.contains("'fortran_order': False") else { throw FormatError(path: path, reason: "Fortran order") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw FormatError(path: path, reason: "no shape in \(header)")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *), offset = start + headerLength
        guard bytes.count - offset == count * 4 else {
            throw FormatError(path: path, reason: "shape \(shape) needs \(count * 4) bytes of data, the file has \(bytes.count - offset)")
        }
        let values = bytes[offset...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return HostTensor(shape: shape, values: values)
    }

    public static func write(_ tensor: HostTensor, to path: String) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(tensor.shape.map(String.init).joined(separator: ", "))\(tensor.shape.count == 1 ? "," : "")), }"
        // Version 1.0: the header padded with spaces to a multiple of 64 bytes with its newline.
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        tensor.values.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: URL(fileURLWithPath: path))
    }
}
