import Pipeline

extension RunSummary {
    /// One summary for several ranks: counts and times added, elapsed the longest rank's,
    /// every rank's devices listed.
    public static func combined(_ parts: [RunSummary]) -> RunSummary? {
        guard var total = parts.first else { return nil }
        for part in parts.dropFirst() {
            total.tiles += part.tiles
            total.batches += part.batches
            total.bytesRead += part.bytesRead
            total.waitSeconds += part.waitSeconds
            total.busySeconds += part.busySeconds
            total.readSeconds += part.readSeconds
            total.elapsedSeconds = max(total.elapsedSeconds, part.elapsedSeconds)
            total.peakRSSBytes = max(total.peakRSSBytes, part.peakRSSBytes)
            total.loaderPoolBytes += part.loaderPoolBytes
            total.complete = total.complete && part.complete
            total.devices += part.devices
        }
        let elapsed = total.elapsedSeconds
        total.tilesPerSecond = elapsed > 0 ? Double(total.tiles) / elapsed : 0
        total.megabytesPerSecond = elapsed > 0 ? Double(total.bytesRead) / elapsed / 1e6 : 0
        return total
    }
}
