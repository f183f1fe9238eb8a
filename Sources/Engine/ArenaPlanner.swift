/// Places values in one buffer by their lifetimes: two values share bytes only when
/// they are never alive at the same time. Greedy, largest first, first fit. Every
/// backend plans its activation arena (host or device memory) with it.
public enum ArenaPlanner {
    public struct Request: Sendable {
        public var size: Int
        /// First and last step (inclusive) at which the value must hold its contents.
        public var first: Int
        public var last: Int
        public init(size: Int, first: Int, last: Int) { (self.size, self.first, self.last) = (size, first, last) }
    }

    /// Offsets per request, and the arena size.
    public static func plan(_ requests: [Request], alignment: Int = 64) -> (offsets: [Int], size: Int) {
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

    /// The steps between which each value must live, from what each step reads and
    /// writes. `root[v]` names the value whose bytes `v` shares (an op writing in place
    /// over its residual): shared values are planned as one. Values no step touches get
    /// `last == -1`.
    public static func lifetimes(reads: [[Int]], writes: [[Int]], root: [Int]) -> (first: [Int], last: [Int]) {
        var first = [Int](repeating: Int.max, count: root.count)
        var last = [Int](repeating: -1, count: root.count)
        for step in reads.indices {
            for v in reads[step] + writes[step] {
                first[root[v]] = min(first[root[v]], step)
                last[root[v]] = max(last[root[v]], step)
            }
        }
        return (first, last)
    }
}
