import Engine
import Foundation
@testable import Pipeline
import Raster
import Results
import Synchronization
import Testing
import TestSupport
import Tiling

/// Runs `source` through an ``InferenceRun`` and returns every delivered tile index,
/// checking each tile's pixels with `verify` as it arrives.
func deliveredTiles(
    _ source: any TileSource, plan: [Int]? = nil, batchSize: Int, workers: Int, devices: Int,
    verify: @escaping @Sendable (TileInfo, UnsafeMutableBufferPointer<Float>) -> Bool = { _, _ in true }
) throws -> (indices: [Int], batches: [[Int]], summary: RunSummary) {
    let seen = Mutex<(indices: [Int], shapes: [[Int]], bad: [Int])>(([], [], []))
    let loader = try Loader(source: source, plan: plan, batchSize: batchSize, workers: workers, consumers: devices)
    let run = InferenceRun(
        loader: loader, devices: devices, makeModel: { _ in NoModel() },
        handleOutputs: { batch, outputs in
            precondition(outputs.count == batch.count)
            let bad = batch.tiles.enumerated().filter { slot, info in !batch.withTile(slot) { verify(info, $0) } }.map(\.element.index)
            seen.withLock {
                $0.indices += batch.tiles.map(\.index)
                $0.shapes.append(batch.shape)
                $0.bad += bad
            }
        },
        recorder: try RunRecorder(metricsPath: nil), progress: nil)
    let summary = try run.run()
    let result = seen.withLock { $0 }
    #expect(result.bad.isEmpty, "tiles with wrong pixels: \(result.bad)")
    return (result.indices, result.shapes, summary)
}

@Suite("Loader")
struct LoaderTests {
    @Test("a generated 4096 px image gives 16 tiles of 3x1024x1024", arguments: [0, 2])
    func seedImage(workers: Int) throws {
        let directory = try TestSupport.temporaryDirectory()
        let path = try TestSupport.makeTestImage(in: directory, size: 4096, tileSize: 1024)
        let source = try RasterTileSource(path: path, bands: [1, 2, 3], tileSize: 1024, overlap: 0)
        #expect(source.count == 16)
        let (indices, shapes, summary) = try deliveredTiles(source, batchSize: 16, workers: workers, devices: 1)
        #expect(indices.sorted() == Array(0..<16))
        #expect(shapes == [[16, 3, 1024, 1024]])
        #expect(summary.bytesRead == 4096 * 4096 * 3)
    }

    @Test("batches have the right shapes, the last one short", arguments: [0, 1, 3])
    func batchShapes(workers: Int) throws {
        let source = DummyTileSource(count: 16, tileSize: 32, delay: 0, seed: 1)
        let (_, shapes, _) = try deliveredTiles(source, batchSize: 5, workers: workers, devices: 1)
        #expect(shapes.map { $0[0] }.sorted() == [1, 5, 5, 5])
        #expect(shapes.allSatisfy { $0.dropFirst() == [3, 32, 32] })
    }

    @Test(
        "every tile is delivered exactly once with its own pixels, whatever the readers and devices",
        arguments: [0, 1, 3, 8], [1, 3])
    func exactlyOnce(workers: Int, devices: Int) throws {
        let source = DummyTileSource(count: 101, tileSize: 16, delay: 0, seed: 9)
        let (indices, _, summary) = try deliveredTiles(
            source, batchSize: 4, workers: workers, devices: devices,
            verify: { info, pixels in
                var expected = [Float](repeating: 0, count: pixels.count)
                var noise = PixelNoise(seed: 9, stream: UInt64(info.index))
                expected.withUnsafeMutableBufferPointer { noise.fill($0) }
                return Array(pixels) == expected
            })
        #expect(indices.sorted() == Array(0..<101))
        #expect(summary.batches == 26 && summary.tiles == 101 && summary.complete)
    }

    @Test("raster tiles carry their window and its georeferencing, and hold that window's pixels")
    func rasterTilesMatchDirectReads() throws {
        let path = try TestSupport.neonCrop
        let source = try RasterTileSource(path: path, bands: [1, 2, 3], tileSize: 128, overlap: 16)
        let direct = try RasterDataset(path: path, bands: [1, 2, 3])
        let lock = Mutex(direct)
        let (indices, _, _) = try deliveredTiles(
            source, batchSize: 3, workers: 2, devices: 2,
            verify: { info, pixels in
                var expected = [Float](repeating: 0, count: pixels.count)
                lock.withLock { dataset in
                    _ = expected.withUnsafeMutableBufferPointer { try? dataset.read(info.window, into: $0) }
                }
                let origin = source.raster.georeference.transform.apply(
                    col: Double(info.window.colOff), row: Double(info.window.rowOff))
                return Array(pixels) == expected && info.transform.originX == origin.x
                    && info.transform.originY == origin.y && info.window == source.grid.window(at: info.index)
            })
        #expect(indices.sorted() == Array(0..<source.count))
        #expect(source.grid.columns == 4)  // 400 px, 128 px tiles overlapping by >= 16
    }

    @Test("a Byte raster's tiles can be held as stored: a quarter of the bytes, the same pixels once scaled, a dummy source refused")
    func storedTiles() throws {
        let path = try TestSupport.neonCrop
        let source = try RasterTileSource(path: path, bands: [1, 2, 3], tileSize: 128, overlap: 16)
        let encoding = try #require(source.storedPixels)
        #expect(encoding == .uint8(scale: 1 / 255))
        let stored = try Loader(source: source, batchSize: 3, workers: 2, encoding: encoding)
        let floats = try Loader(source: source, batchSize: 3, workers: 0)
        #expect(stored.batchBytes * 4 == floats.batchBytes)
        stored.start()
        let direct = try RasterDataset(path: path, bands: [1, 2, 3])
        var tiles = 0
        while let batch = try stored.next() {
            #expect(batch.encoding == encoding)
            for (i, info) in batch.tiles.enumerated() {
                var expected = [Float](repeating: 0, count: source.tileShape.elementCount)
                _ = try expected.withUnsafeMutableBufferPointer { try direct.read(info.window, into: $0) }
                let scaled = batch.withTileBytes(i) { $0.map { Float($0) * encoding.scale } }
                #expect(scaled == expected, "tile \(info.index)")
                tiles += 1
            }
            stored.recycle(batch)
        }
        #expect(tiles == source.count)
        #expect(DummyTileSource(count: 1, tileSize: 8, delay: 0, seed: 0).storedPixels == nil)
        #expect(throws: StoredPixelsUnavailable.self) {
            var bytes = [UInt8](repeating: 0, count: 3 * 64)
            _ = try bytes.withUnsafeMutableBytes { try DummyTileSource(count: 1, tileSize: 8, delay: 0, seed: 0).makeReader().read(0, stored: $0) }
        }
    }

    @Test("a plan reads only its tiles")
    func plannedSubset() throws {
        let source = DummyTileSource(count: 50, tileSize: 8, delay: 0, seed: 0)
        let (indices, _, _) = try deliveredTiles(source, plan: [5, 2, 49, 17], batchSize: 3, workers: 2, devices: 1)
        #expect(indices.sorted() == [2, 5, 17, 49])
    }

    @Test("the dummy source's delay is honoured, and readers overlap it")
    func dummyDelay() throws {
        let source = DummyTileSource(count: 12, tileSize: 8, delay: 0.05, seed: 0)
        let serial = try deliveredTiles(source, batchSize: 4, workers: 1, devices: 1).summary.elapsedSeconds
        #expect(serial >= 12 * 0.05)
        let parallel = try deliveredTiles(source, batchSize: 1, workers: 4, devices: 1).summary.elapsedSeconds
        #expect(parallel >= 3 * 0.05)
        #expect(parallel < serial * 0.6, "4 readers took \(parallel) s against \(serial) s for one")
    }

    @Test("memory is bounded: batch buffers are recycled from a fixed pool")
    func boundedPool() throws {
        let source = DummyTileSource(count: 400, tileSize: 8, delay: 0, seed: 0)
        let buffers = Mutex(Set<ObjectIdentifier>())
        let loader = try Loader(source: source, batchSize: 2, workers: 3, prefetch: 2, consumers: 2)
        let run = InferenceRun(
            loader: loader, devices: 2, makeModel: { _ in NoModel() },
            handleOutputs: { batch, _ in _ = buffers.withLock { $0.insert(ObjectIdentifier(batch)) } },
            recorder: try RunRecorder(metricsPath: nil), progress: nil)
        let summary = try run.run()
        #expect(summary.batches == 200)
        #expect(buffers.withLock { $0.count } <= 3 * 2 + 2)
        #expect(loader.poolBytes == (3 * 2 + 2) * 2 * 3 * 8 * 8 * 4)
    }

    @Test("the pool stays within its memory budget, keeping a batch per device and one more")
    func memoryBudget() throws {
        let source = DummyTileSource(count: 400, tileSize: 8, delay: 0, seed: 0)
        let batchBytes = 2 * 3 * 8 * 8 * 4
        let buffers = Mutex(Set<ObjectIdentifier>())
        let loader = try Loader(source: source, batchSize: 2, workers: 4, prefetch: 2, consumers: 2, memoryBudget: 4 * batchBytes)
        #expect(loader.poolBytes == 4 * batchBytes)
        let run = InferenceRun(
            loader: loader, devices: 2, makeModel: { _ in NoModel() },
            handleOutputs: { batch, _ in _ = buffers.withLock { $0.insert(ObjectIdentifier(batch)) } },
            recorder: try RunRecorder(metricsPath: nil), progress: nil)
        #expect(try run.run().tiles == 400)
        #expect(buffers.withLock { $0.count } <= 4)
        let tight = try Loader(source: source, batchSize: 2, workers: 4, prefetch: 2, consumers: 2, memoryBudget: 1)
        #expect(tight.poolBytes == 3 * batchBytes)
    }
}
