/// Floats in host memory that own their pages: ordinary ones, or a device's
/// ``HostMemory`` (pinned, on a GPU, so copies from it run at full speed and overlap
/// compute), falling back to ordinary pages where that allocation fails: a batch must
/// never fail for want of pinned pages. Batches, plans and detectors hand these to one
/// another; the memory itself is lent only inside `withUnsafe...` scopes, so it never
/// outlives its owner and every reader knows how much there is.
///
/// A buffer is used by one thread at a time, handed over through locks (the loader's
/// queue): that is what makes the unchecked `Sendable` sound.
public final class HostBuffer: @unchecked Sendable {
    public let count: Int
    private let start: UnsafeMutablePointer<Float>
    private let memory: (any HostMemory)?

    /// `count` floats, left uninitialised: whoever fills the buffer writes what is read.
    public init(count: Int, memory: (any HostMemory)? = nil) {
        precondition(count >= 0, "a negative size")
        self.count = count
        let bytes = max(1, count) * MemoryLayout<Float>.stride
        if let memory, let raw = try? memory.allocate(byteCount: bytes) {
            start = raw.bindMemory(to: Float.self, capacity: max(1, count))
            self.memory = memory
        } else {
            start = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64).bindMemory(to: Float.self, capacity: max(1, count))
            self.memory = nil
        }
    }

    /// A copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit {
        if let memory { memory.deallocate(UnsafeMutableRawPointer(start)) } else { start.deallocate() }
    }

    public var byteCount: Int { count * MemoryLayout<Float>.stride }
    /// Whether the pages came from the device's host memory (pinned on a GPU).
    public var isDeviceMemory: Bool { memory != nil }

    /// The values, copied out.
    public var array: [Float] { withUnsafeBufferPointer { Array($0) } }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: start, count: count))
    }

    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: start, count: count))
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: start, count: byteCount))
    }

    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: start, count: byteCount))
    }

    /// `buffers` lent at once, in order.
    public static func withUnsafeMutableBuffers<R>(
        _ buffers: [HostBuffer], _ body: ([UnsafeMutableBufferPointer<Float>]) throws -> R
    ) rethrows -> R {
        // Each buffer owns fixed pages for as long as the array holds it: lending them
        // all at once is lending each.
        try withExtendedLifetime(buffers) { try body(buffers.map { UnsafeMutableBufferPointer(start: $0.start, count: $0.count) }) }
    }
}
