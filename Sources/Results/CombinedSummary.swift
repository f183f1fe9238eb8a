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
        }
        total.updateRates()
        return total
    }
}
