import Engine
import Models
import Results

/// A detector as a ``TileModel``: each tile's detections, boxes in its own pixels.
public final class DetectorTileModel: TileModel {
    private let detector: any Detector

    public init(_ detector: any Detector) { self.detector = detector }

    public var deviceBytes: Int { detector.memoryBytes }
    public var lastNetworkSeconds: Double? { detector.networkSeconds }
    public var lastCopySeconds: Double? { detector.copySeconds }

    public func predict(_ batch: Batch) throws -> [TileOutput] {
        let s = batch.tileShape
        return try detector.detect(batch.pixels, pixels: batch.encoding, count: batch.count, channels: s.channels, height: s.height,
                                   width: s.width)
            .map { .detections($0) }
    }

    /// Compiles the plans for full batches of tiles held as `pixels` now, so the first
    /// batch's time is its own.
    public func prepare(batchSize: Int, tileShape: TileShape, pixels: PixelEncoding = .float32) throws {
        try detector.prepare(count: batchSize, height: tileShape.height, width: tileShape.width, pixels: pixels)
    }
}
