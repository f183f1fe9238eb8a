/// What one tile's results took in its rank's part: how many rows, and a digest of
/// their bytes (FNV-1a, 64 bits). The journal records it, so the part can be held to what
/// was written: a row cut, dropped, added or altered afterwards is found, not merged.
public struct WrittenRows: Equatable, Sendable {
    public var count: Int
    public var digest: UInt64

    public init(count: Int, digest: UInt64) { (self.count, self.digest) = (count, digest) }

    /// The rows of `text`, each ending in a newline.
    public init<S: StringProtocol>(text: S) {
        count = text.utf8.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        digest = Self.digest(text)
    }

    /// The rows as read back, without their newlines.
    public init(rows: [Substring]) {
        count = rows.count
        var hash = Self.offsetBasis
        for row in rows {
            hash = Self.fold(row.utf8, into: hash)
            hash = Self.fold(CollectionOfOne(UInt8(ascii: "\n")), into: hash)
        }
        digest = hash
    }

    static func digest<S: StringProtocol>(_ text: S) -> UInt64 { fold(text.utf8, into: offsetBasis) }

    /// The same digest of any bytes (a segmentation part's compressed pixels).
    public static func digest<C: Sequence>(bytes: C) -> UInt64 where C.Element == UInt8 { fold(bytes, into: offsetBasis) }

    private static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static func fold<C: Sequence>(_ bytes: C, into hash: UInt64) -> UInt64 where C.Element == UInt8 {
        bytes.reduce(hash) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01b3 }
    }
}
