/// Places values in one buffer by their lifetimes: two values share bytes only when
/// they are never alive at the same time. Greedy, largest first, first fit.
struct ArenaPlanner {
    struct Request {
        var size: Int
        /// First and last step (inclusive) at which the value must hold its contents.
        var first: Int
        var last: Int
    }

    /// Offsets per request, and the arena size.
    static func plan(_ requests: [Request], alignment: Int = 64) -> (offsets: [Int], size: Int) {
        var offsets = [Int](repeating: 0, count: requests.count)
        var placed: [(offset: Int, end: Int, first: Int, last: Int)] = []
        var total = 0
        for i in requests.indices.sorted(by: { requests[$0].size > requests[$1].size }) {
            let r = requests[i]
            let size = (r.size + alignment - 1) / alignment * alignment
            let clashes = placed.filter { $0.first <= r.last && r.first <= $0.last }.sorted { $0.offset < $1.offset }
            var offset = 0
            for c in clashes where offset + size > c.offset {
                offset = max(offset, c.end)
            }
            offsets[i] = offset
            placed.append((offset, offset + size, r.first, r.last))
            total = max(total, offset + size)
        }
        return (offsets, total)
    }
}
