/// SplitMix64 seeded for generated pixels: the same seed gives the same image on every
/// machine, and each tile can be seeded on its own (seed, tile index), so tiles are
/// generated in any order or in parallel.
public struct PixelNoise: RandomNumberGenerator, Sendable {
    private var generator: SplitMix

    public init(seed: UInt64, stream: UInt64 = 0) {
        // Mix the stream in so neighbouring tiles start far apart in the sequence.
        generator = SplitMix(seed &* 0x9E37_79B9_7F4A_7C15 ^ (stream &+ 1) &* 0xBF58_476D_1CE4_E5B9)
        _ = generator.next()
    }

    public mutating func next() -> UInt64 { generator.next() }

    /// Fills `bytes` with uniform random bytes, eight at a time.
    public mutating func fill(_ bytes: UnsafeMutableRawBufferPointer) {
        var i = 0
        while i + 8 <= bytes.count {
            bytes.storeBytes(of: next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        if i < bytes.count {
            var last = next()
            while i < bytes.count {
                bytes[i] = UInt8(truncatingIfNeeded: last)
                last >>= 8
                i += 1
            }
        }
    }

    /// Fills `values` with uniform floats in [0, 1), two per 64-bit draw (24 bits each,
    /// the precision of a Float mantissa).
    public mutating func fill(_ values: UnsafeMutableBufferPointer<Float>) {
        let scale: Float = 1.0 / Float(1 << 24)
        var i = 0
        while i + 2 <= values.count {
            let r = next()
            values[i] = Float(UInt32(truncatingIfNeeded: r) >> 8) * scale
            values[i + 1] = Float(UInt32(truncatingIfNeeded: r >> 32) >> 8) * scale
            i += 2
        }
        if i < values.count { values[i] = Float(UInt32(truncatingIfNeeded: next()) >> 8) * scale }
    }
}
