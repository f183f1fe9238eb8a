/// Where a rank's results go as batches finish: one row per tile or per box, in its part file.
public protocol ResultsSink: Sendable {
    func write(_ batch: Batch, _ outputs: [TileOutput]) throws
    func close() throws
}

extension ClassificationCSV: ResultsSink {}
extension DetectionCSV: ResultsSink {}
