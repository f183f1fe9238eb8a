extension RunSummary {
    /// One summary for several ranks: counts and times added, elapsed the longest rank's,
    /// every rank's devices listed.
    public static func combined(_ parts: [RunSummary]) -> RunSummary? {
        guard var total = parts.first else { return nil }
        for part in parts.dropFirst() {
            total.addWork(of: part)
            total.elapsedSeconds = max(total.elapsedSeconds, part.elapsedSeconds)
            total.loaderPoolBytes += part.loaderPoolBytes
            total.devices += part.devices
            if let claims = part.claims {
                let sum = total.claims ?? .init(chunks: 0, takenOver: 0, operations: 0)
                total.claims = .init(
                    chunks: sum.chunks + claims.chunks, takenOver: sum.takenOver + claims.takenOver,
                    operations: sum.operations + claims.operations)
            }
        }
        // Each rank's own; the job's are in ``ranks``.
        (total.startedAt, total.lastTileAt) = parts.count > 1 ? (nil, nil) : (total.startedAt, total.lastTileAt)
        total.updateRates()
        return total
    }
}
