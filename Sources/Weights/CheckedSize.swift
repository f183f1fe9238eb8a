/// Sizes, counts and offsets read from a weights file, combined without overflow: a
/// hostile file's 2^62 stride or [2^32, 2^32] shape is a value to refuse, not a trap.
enum CheckedSize {
    /// `a * b`, or nil when either is negative or the product overflows.
    static func product(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : value
    }

    /// `a + b`, or nil when either is negative or the sum overflows.
    static func sum(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : value
    }

    /// The element count of `shape`, or nil when a dimension is negative or the count overflows.
    static func elements(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard let next = product(count, dimension) else { return nil }
            count = next
        }
        return count
    }
}
