import Foundation
import Tiling

/// The seed's dummy dataset: `count` tiles of uniform random pixels, each taking
/// `delay` seconds to "load" (a sleep in the reader thread, as a slow disk or network
/// would block it). Pixels depend only on (seed, index), so runs are reproducible.
public struct DummyTileSource: TileSource {
    public let count: Int
    public let tileShape: TileShape
    public let delay: Double
    public let seed: UInt64

    public init(count: Int, tileSize: Int, channels: Int = 3, delay: Double, seed: UInt64) {
        self.count = count
        self.tileShape = TileShape(channels: channels, height: tileSize, width: tileSize)
        self.delay = delay
        self.seed = seed
    }

    public func info(at index: Int) -> TileInfo {
        TileInfo(
            index: index, window: Window(colOff: 0, rowOff: 0, width: tileShape.width, height: tileShape.height),
            transform: .identity)
    }

    public func makeReader() throws -> any TileReader { Reader(delay: delay, seed: seed) }

    private struct Reader: TileReader {
        let delay: Double
        let seed: UInt64
        func read(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws -> TileRead {
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            var noise = PixelNoise(seed: seed, stream: UInt64(index))
            noise.fill(buffer)
            return TileRead(bytes: 0)  // made, not read: dummy tiles count no megabytes read
        }
    }
}
