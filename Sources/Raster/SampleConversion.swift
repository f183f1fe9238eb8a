/// Stored samples to [0, 1] floats, one row at a time (see ``SampleType`` for the scale).
/// Written as plain loops over typed pointers so the compiler vectorises them.
enum SampleConversion {
    static func convert(
        _ stored: UnsafeRawPointer, type: SampleType, count: Int, into out: UnsafeMutablePointer<Float>,
        nodata: Double?
    ) {
        switch type {
        case .byte:
            integers(stored.assumingMemoryBound(to: UInt8.self), count, out, type.scale, nodata.flatMap(UInt8.init(exactly:)))
        case .uint16:
            integers(stored.assumingMemoryBound(to: UInt16.self), count, out, type.scale, nodata.flatMap(UInt16.init(exactly:)))
        case .float32:
            floats(stored.assumingMemoryBound(to: Float.self), count, out, nodata.map { Float($0) })
        case .float64:
            floats(stored.assumingMemoryBound(to: Double.self), count, out, nodata)
        }
    }

    /// A nil `nodata` also covers a declared value this type cannot hold (e.g. -1 for
    /// Byte): no stored sample can equal it, so nothing is masked.
    @inline(__always)
    private static func integers<T: FixedWidthInteger & UnsignedInteger>(
        _ p: UnsafePointer<T>, _ n: Int, _ out: UnsafeMutablePointer<Float>, _ scale: Float, _ nodata: T?
    ) {
        if let nodata {
            for i in 0..<n { out[i] = p[i] == nodata ? 0 : Float(p[i]) * scale }
        } else {
            for i in 0..<n { out[i] = Float(p[i]) * scale }
        }
    }

    @inline(__always)
    private static func floats<T: BinaryFloatingPoint>(
        _ p: UnsafePointer<T>, _ n: Int, _ out: UnsafeMutablePointer<Float>, _ nodata: T?
    ) {
        // NaN marks missing data in float rasters whether or not it is declared.
        if let nodata, !nodata.isNaN {
            for i in 0..<n { out[i] = p[i] == nodata || p[i].isNaN ? 0 : Float(p[i]) }
        } else {
            for i in 0..<n { out[i] = p[i].isNaN ? 0 : Float(p[i]) }
        }
    }
}
