/// The order the detectors rank scores in, as torchvision's topk and sort are held to
/// here: by decreasing score, equal scores by increasing position, i.e.
/// `positions.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }`.
///
/// Without a NaN that order is total, so it is computed on 64-bit keys (the score's bits
/// made order-preserving, -0 as +0, then the position) that compare as plain integers,
/// and the first k of it by selection, without sorting the rest: the same positions in
/// the same order as the closure sort. With a NaN (which makes that comparison no order
/// at all) it is the closure sort itself, so even then the results are the ones it gives.
public enum TopK {
    /// The positions of the `k` best of `values`, best first (all of them when `k` >= count).
    public static func indices(_ values: [Float], count k: Int) -> [Int] {
        precondition(k >= 0, "negative count \(k)")
        return values.withUnsafeBufferPointer { best(of: 0..<$0.count, values: $0, count: k) }
    }

    /// `positions` (distinct positions in `values`) in the order, all of them.
    static func sorted(_ positions: [Int], by values: [Float]) -> [Int] {
        values.withUnsafeBufferPointer { best(of: positions, values: $0, count: positions.count) }
    }

    /// The reference: the closure sort the detectors used, and fall back on with a NaN.
    static func closureSorted(_ positions: some Sequence<Int>, values: UnsafeBufferPointer<Float>) -> [Int] {
        positions.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    }

    private static func best(of positions: some Collection<Int>, values: UnsafeBufferPointer<Float>, count k: Int) -> [Int] {
        let n = positions.count
        if n == 0 || k == 0 { return [] }
        if n > Int(UInt32.max) || positions.contains(where: { values[$0].isNaN }) {
            return Array(closureSorted(positions, values: values).prefix(k))
        }
        var keys = [UInt64](unsafeUninitializedCapacity: n) { buffer, initialized in
            for (slot, p) in positions.enumerated() { buffer[slot] = key(values[p], position: p) }
            initialized = n
        }
        let m = min(k, n)
        keys.withUnsafeMutableBufferPointer { keys in
            if m < n { selectSmallest(m, in: keys) }
            keys[0..<m].sort()
        }
        return [Int](unsafeUninitializedCapacity: m) { buffer, initialized in
            for slot in 0..<m { buffer[slot] = Int(truncatingIfNeeded: keys[slot] & 0xFFFF_FFFF) }
            initialized = m
        }
    }

    /// Ascending keys are decreasing values, then increasing positions. `value` is not NaN.
    @inline(__always)
    static func key(_ value: Float, position: Int) -> UInt64 {
        let bits = (value == 0 ? 0 : value).bitPattern  // -0 == +0: one key for both
        // Order-preserving: negatives reversed below the positives.
        let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(~ordered) << 32 | UInt64(truncatingIfNeeded: position)
    }

    /// Rearranges `keys` (distinct) so that its first `k` are its `k` smallest, in any
    /// order: quickselect with a median-of-three pivot, sorting what is left when it
    /// takes more rounds than a balanced one would (so never quadratic).
    static func selectSmallest(_ k: Int, in keys: UnsafeMutableBufferPointer<UInt64>) {
        var lo = 0, hi = keys.count
        var rounds = 2 * (Int.bitWidth - keys.count.leadingZeroBitCount) + 4
        while hi - lo > 32 {
            guard k > lo && k < hi else { return }
            if rounds == 0 { break }
            rounds -= 1
            let mid = lo + (hi - lo) / 2
            // Median of three at hi - 1.
            if keys[mid] < keys[lo] { keys.swapAt(mid, lo) }
            if keys[hi - 1] < keys[lo] { keys.swapAt(hi - 1, lo) }
            if keys[mid] < keys[hi - 1] { keys.swapAt(mid, hi - 1) }
            let pivot = keys[hi - 1]
            var store = lo
            for i in lo..<(hi - 1) where keys[i] < pivot {
                keys.swapAt(i, store)
                store += 1
            }
            keys.swapAt(store, hi - 1)
            // keys[lo..<store] < pivot == keys[store] < keys[(store + 1)..<hi]
            if store == k || store + 1 == k { return }
            if store > k { hi = store } else { lo = store + 1 }
        }
        if k > lo && k < hi { keys[lo..<hi].sort() }
    }
}
