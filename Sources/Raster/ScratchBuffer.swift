/// A raw buffer that grows to the largest size asked of it and is then reused.
struct ScratchBuffer: ~Copyable {
    private(set) var bytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// At least `count` bytes, aligned for any sample type; contents unspecified.
    mutating func reserve(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if bytes.count < count {
            bytes.deallocate()
            bytes = .allocate(byteCount: count, alignment: 64)
        }
        return UnsafeMutableRawBufferPointer(rebasing: bytes[0..<count])
    }

    deinit { bytes.deallocate() }
}
