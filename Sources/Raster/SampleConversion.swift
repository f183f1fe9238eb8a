/// Stored samples to [0, 1] floats, one row at a time (see ``SampleType`` for the scale),
/// and the nodata test behind the dataset mask. Written as plain loops over typed
/// pointers so the compiler vectorises them.
enum SampleConversion {
    static func convert(_ stored: UnsafeRawPointer, type: SampleType, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .byte: integers(stored.assumingMemoryBound(to: UInt8.self), count, out, type.scale)
        case .uint16: integers(stored.assumingMemoryBound(to: UInt16.self), count, out, type.scale)
        case .float32: floats(stored.assumingMemoryBound(to: Float.self), count, out)
        case .float64: floats(stored.assumingMemoryBound(to: Double.self), count, out)
        }
    }

    /// Sets `valid[i]` to 1 where the stored sample is not `nodata` (a NaN nodata
    /// matches NaN samples); leaves it as it was elsewhere, so calls for several bands
    /// give "valid in any band".
    static func markValid(
        _ stored: UnsafeRawPointer, type: SampleType, count: Int, nodata: Double, into valid: UnsafeMutablePointer<UInt8>
    ) {
        switch type {
        case .byte: integers(stored.assumingMemoryBound(to: UInt8.self), count, UInt8(exactly: nodata), valid)
        case .uint16: integers(stored.assumingMemoryBound(to: UInt16.self), count, UInt16(exactly: nodata), valid)
        case .float32: floats(stored.assumingMemoryBound(to: Float.self), count, Float(nodata), valid)
        case .float64: floats(stored.assumingMemoryBound(to: Double.self), count, nodata, valid)
        }
    }

    @inline(__always)
    private static func integers<T: FixedWidthInteger & UnsignedInteger>(
        _ p: UnsafePointer<T>, _ n: Int, _ out: UnsafeMutablePointer<Float>, _ scale: Float
    ) {
        for i in 0..<n { out[i] = Float(p[i]) * scale }
    }

    /// NaN and ±Inf (also a Float64 too large for Float32) read as 0: a single one would
    /// otherwise spread through every convolution that sees it and turn a whole tile's
    /// outputs into NaN.
    @inline(__always)
    private static func floats<T: BinaryFloatingPoint>(_ p: UnsafePointer<T>, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            let value = Float(p[i])
            out[i] = value.isFinite ? value : 0
        }
    }

    /// A nil `nodata` is a declared value this type cannot hold (e.g. -1 for Byte): no
    /// stored sample equals it, so every pixel is valid.
    @inline(__always)
    private static func integers<T: FixedWidthInteger & UnsignedInteger>(
        _ p: UnsafePointer<T>, _ n: Int, _ nodata: T?, _ valid: UnsafeMutablePointer<UInt8>
    ) {
        guard let nodata else { return valid.update(repeating: 1, count: n) }
        for i in 0..<n where p[i] != nodata { valid[i] = 1 }
    }

    @inline(__always)
    private static func floats<T: BinaryFloatingPoint>(
        _ p: UnsafePointer<T>, _ n: Int, _ nodata: T, _ valid: UnsafeMutablePointer<UInt8>
    ) {
        if nodata.isNaN {
            for i in 0..<n where !p[i].isNaN { valid[i] = 1 }
        } else {
            for i in 0..<n where p[i] != nodata { valid[i] = 1 }
        }
    }
}
