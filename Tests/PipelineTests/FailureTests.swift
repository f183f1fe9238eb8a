import Foundation
@testable import Pipeline
import Results
import Synchronization
import Testing
import Tiling

/// A source whose reader fails on one tile, as a corrupt block of a raster would.
struct FailingSource: TileSource {
    struct Broken: Error, Equatable { let index: Int }
    let count: Int
    let failAt: Int
    var tileShape: TileShape { TileShape(channels: 1, height: 4, width: 4) }
    func info(at index: Int) -> TileInfo {
        TileInfo(index: index, window: Window(colOff: 0, rowOff: 0, width: 4, height: 4), transform: .identity)
    }
    func makeReader() throws -> any TileReader { Reader(failAt: failAt) }
    struct Reader: TileReader {
        let failAt: Int
        func read(_ index: Int, into buffer: UnsafeMutableBufferPointer<Float>) throws -> TileRead {
            if index == failAt { throw Broken(index: index) }
            return TileRead(bytes: 0)
        }
    }
}

struct FailingModel: TileModel {
    struct Failed: Error, Equatable {}
    func predict(_ batch: Batch) throws -> [TileOutput] {
        if batch.number == 3 { throw Failed() }
        return Array(repeating: .none, count: batch.count)
    }
    var deviceBytes: Int { 0 }
}

@Suite("Failures end the run with the error, never a hang")
struct FailureTests {
    func run(_ source: any TileSource, workers: Int, devices: Int, model: @escaping @Sendable () -> any TileModel = { NoModel() })
        throws -> RunSummary
    {
        let loader = try Loader(source: source, batchSize: 2, workers: workers, consumers: devices)
        return try InferenceRun(
            loader: loader, devices: devices, makeModel: { _ in model() },
            recorder: try RunRecorder(metricsPath: nil), progress: nil
        ).run()
    }

    @Test("a read error stops the run and is thrown", arguments: [0, 1, 4], [1, 2])
    func readError(workers: Int, devices: Int) {
        #expect(throws: FailingSource.Broken(index: 37)) {
            try run(FailingSource(count: 1000, failAt: 37), workers: workers, devices: devices)
        }
    }

    @Test("a model error stops the run and is thrown", arguments: [0, 3])
    func modelError(workers: Int) {
        #expect(throws: FailingModel.Failed()) {
            try run(FailingSource(count: 1000, failAt: -1), workers: workers, devices: 2, model: { FailingModel() })
        }
    }

    @Test("stopping ends the run early and cleanly with what was done")
    func stop() throws {
        let source = DummyTileSource(count: 1000, tileSize: 4, delay: 0.002, seed: 0)
        let loader = try Loader(source: source, batchSize: 1, workers: 2, consumers: 1)
        // Another thread stops the run once a batch has been through (a fixed delay
        // could pass before the first batch on a loaded machine).
        let firstBatch = DispatchSemaphore(value: 0)
        let run = InferenceRun(
            loader: loader, devices: 1, makeModel: { _ in SignallingModel(signal: firstBatch) },
            recorder: try RunRecorder(metricsPath: nil), progress: nil)
        DispatchQueue.global().async { firstBatch.wait(); run.stop() }
        let summary = try run.run()
        #expect(summary.batches > 0 && summary.batches < 1000 && !summary.complete)
    }

    /// Signals after each batch it predicts.
    struct SignallingModel: TileModel {
        let signal: DispatchSemaphore
        func predict(_ batch: Batch) throws -> [TileOutput] {
            defer { signal.signal() }
            return Array(repeating: .none, count: batch.count)
        }
        var deviceBytes: Int { 0 }
    }

    /// Stops the run from inside its first batch, once the readers have batches waiting.
    struct StoppingModel: TileModel {
        let stop: @Sendable () -> Void
        func predict(_ batch: Batch) throws -> [TileOutput] {
            Thread.sleep(forTimeInterval: 0.3)  // the readers fill the pool meanwhile
            stop()
            return Array(repeating: .none, count: batch.count)
        }
        var deviceBytes: Int { 0 }
    }

    @Test("a stop ends after the batches on the devices; batches read ahead are dropped, not run")
    func stopWithinOneBatch() throws {
        let source = DummyTileSource(count: 400, tileSize: 4, delay: 0, seed: 0)
        let loader = try Loader(source: source, batchSize: 2, workers: 3, prefetch: 4, consumers: 1)
        let stopper = Mutex<InferenceRun?>(nil)
        let run = InferenceRun(
            loader: loader, devices: 1, makeModel: { _ in StoppingModel { stopper.withLock { $0?.stop() } } },
            recorder: try RunRecorder(metricsPath: nil), progress: nil)
        stopper.withLock { $0 = run }
        let summary = try run.run()
        #expect(summary.batches == 1 && !summary.complete, "\(summary.batches) batches ran after the stop")
    }
}

@Suite("Progress line")
struct ProgressBarTests {
    @Test("it reads as the seed's (tqdm's) line, in tiles, with no estimate before there is one")
    func seedFormat() {
        let bar = ProgressBar(total: 417, interactive: false, logInterval: 10, unicode: false, write: { _ in })
        #expect(bar.render(done: 175, elapsed: 41.37) == "Predicting DataLoader 0:  42%|####      | 175/417 [00:41<00:57, 4.23tiles/s]")
        #expect(bar.render(done: 0, elapsed: 10) == "Predicting DataLoader 0:   0%|          | 0/417 [00:10<?, ?tiles/s]")
        #expect(bar.render(done: 2, elapsed: 10).hasSuffix("[00:10<34:35, 5.00s/tile]"))
        let unicode = ProgressBar(total: 417, interactive: false, logInterval: 10, unicode: true, write: { _ in })
        #expect(unicode.render(done: 417, elapsed: 98.6) == "Predicting DataLoader 0: 100%|██████████| 417/417 [01:38<00:00, 4.23tiles/s]")
        #expect(ProgressBar.clock(3725) == "1:02:05")
    }

    @Test("nothing to do shows nothing; on a terminal the clock moves during a long batch")
    func emptyAndLongBatches() {
        let none = LockedLines()
        let empty = ProgressBar(total: 0, interactive: true, logInterval: 1, unicode: false, write: none.append)
        empty.begin()
        empty.finish()
        #expect(none.all.isEmpty)
        let lines = LockedLines()
        let bar = ProgressBar(total: 8, interactive: true, logInterval: 1, unicode: false, write: lines.append)
        bar.begin()
        Thread.sleep(forTimeInterval: 2.4)  // one batch of 8 tiles, still running
        bar.advance(tiles: 8)
        bar.finish()
        #expect(lines.all.count >= 3 && lines.all.dropLast().allSatisfy { $0.contains(" 0/8 [") }, "\(lines.all)")
        let clocks = lines.all.dropLast().compactMap { $0.components(separatedBy: "[").last?.prefix(5) }
        #expect(Set(clocks).count >= 2, "the clock moved: \(lines.all)")
        #expect(lines.all.last?.contains(" 8/8 [") == true && lines.all.last?.hasSuffix("\n") == true)
    }

    @Test("without a terminal it prints a plain line every log_interval batches and at the end")
    func plainLines() {
        let lines = LockedLines()
        let bar = ProgressBar(total: 25, interactive: false, logInterval: 10, unicode: false, write: lines.append)
        for _ in 0..<25 { bar.advance(tiles: 1) }
        bar.finish()
        #expect(lines.all.count == 3)
        #expect(lines.all.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })
        #expect(lines.all.last!.contains("25/25"))
    }

    @Test("it starts at 0%, and slow batches still get a line every log_interval_s seconds")
    func timedLines() {
        let lines = LockedLines()
        let bar = ProgressBar(total: 4, interactive: false, logInterval: 10, logSeconds: 0.3, unicode: false, write: lines.append)
        bar.begin()
        #expect(lines.all == ["Predicting DataLoader 0:   0%|          | 0/4 [00:00<?, ?tiles/s]\n"])
        bar.advance()
        Thread.sleep(forTimeInterval: 1.5)  // a slow batch: no batch-count line is due
        let timed = lines.all.dropFirst()
        #expect(timed.count >= 2 && timed.allSatisfy { $0.contains(" 1/4 [") && $0.contains("<") }, "\(lines.all)")
        bar.advance()
        bar.finish()
        let count = lines.all.count
        Thread.sleep(forTimeInterval: 0.7)
        #expect(lines.all.count == count, "no line after finish")
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { lock.withLock { lines } }
    @Sendable func append(_ line: String) { lock.withLock { lines.append(line) } }
}
