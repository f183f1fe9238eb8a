import Foundation
import Synchronization
import Engine
import Tiling

/// Turns a feed of tiles into batches, read by `workers` threads ahead of the devices.
///
/// - A reader takes the next batch number and the feed's next `B` tiles together, under
///   one lock, so every tile is read exactly once whatever the number of readers or
///   devices; a batch is short only where the feed runs out.
/// - Batches come from a pool of at most `workers * prefetch + consumers` buffers that
///   are recycled: a reader with no free buffer waits. Memory is bounded by the pool,
///   not by the raster, and the pool by `memoryBudget` bytes (never fewer than one
///   batch per consumer and one being read): eight readers of batches of sixteen
///   1024 px tiles would otherwise hold 3.4 GB ahead of a detector that needs seconds
///   per batch. Buffers are made only when no free one is waiting, so a data path that
///   keeps up with its devices holds just a few.
/// - Batches may arrive out of order; each carries its number and its tiles.
/// - `workers == 0` reads on the consumer's thread when it asks, as PyTorch does.
public final class Loader: Sendable {
    public let source: any TileSource
    public let feed: any TileFeed
    public let batchSize: Int
    public let workers: Int
    /// Batches the feed's plan makes, when it is known in advance.
    public var plannedBatches: Int? { feed.plannedCount.map { ($0 + batchSize - 1) / batchSize } }

    /// The next batch's number, and whether the feed has run dry (taken under one lock).
    private let handing = Mutex<(next: Int, drained: Bool)>((0, false))
    private let stopped = Atomic<Bool>(false)
    private let free = BlockingQueue<Batch>()
    private let ready = BlockingQueue<Batch>()
    private let failure = Mutex<(any Error)?>(nil)
    private let running = Atomic<Int>(0)
    private let threads = Mutex<[JoinableThread]>([])
    /// With no workers, one reader shared by the consumers under this lock.
    private let inlineReader: Mutex<(any TileReader)?>
    private let poolSize: Int
    private let buffersMade = Atomic<Int>(0)
    private let hostMemory: (any HostMemory)?
    private let encoding: PixelEncoding

    /// - Parameters:
    ///   - plan: the tile indices to read, in order (all of them: `Array(0..<source.count)`).
    ///   - feed: where the tiles come from when not a fixed plan (claims shared with other ranks).
    ///   - consumers: threads that will hold a batch at once (device workers).
    ///   - encoding: how batches hold the pixels: floats, or the source's stored samples
    ///     (its ``TileSource/storedPixels``) for a device that converts them.
    public init(
        source: any TileSource, plan: [Int]? = nil, feed: (any TileFeed)? = nil, batchSize: Int, workers: Int, prefetch: Int = 2,
        consumers: Int = 1, memoryBudget: Int = .max, hostMemory: (any HostMemory)? = nil, encoding: PixelEncoding = .float32
    ) throws {
        precondition(encoding == .float32 || encoding == source.storedPixels, "\(encoding) batches from a source that gives \(source.storedPixels.map(String.init(describing:)) ?? "floats only")")
        self.hostMemory = hostMemory
        self.encoding = encoding
        precondition(batchSize > 0 && workers >= 0 && prefetch > 0 && consumers > 0)
        self.source = source
        self.feed = feed ?? PlannedTiles(plan ?? Array(0..<source.count))
        self.batchSize = batchSize
        self.workers = workers
        poolSize = Self.poolSize(
            batches: ((self.feed.plannedCount ?? source.count) + batchSize - 1) / batchSize,
            batchBytes: Batch.bytes(capacity: batchSize, tileShape: source.tileShape, encoding: encoding),
            workers: workers, prefetch: prefetch, consumers: consumers, memoryBudget: memoryBudget)
        inlineReader = Mutex(workers == 0 ? try source.makeReader() : nil)
    }

    /// The batch buffers the pool may hold: enough for every reader to work `prefetch`
    /// ahead and every consumer to hold one, within `memoryBudget` but never fewer than
    /// one per consumer and one more, and never more than there are batches.
    public static func poolSize(
        batches: Int, batchBytes: Int, workers: Int, prefetch: Int, consumers: Int, memoryBudget: Int
    ) -> Int {
        let affordable = max(consumers + 1, memoryBudget / max(1, batchBytes))
        return max(1, min(max(1, workers * prefetch) + consumers, batches, affordable))
    }

    /// Bytes of one batch buffer.
    public var batchBytes: Int { Batch.bytes(capacity: batchSize, tileShape: source.tileShape, encoding: encoding) }
    /// Bytes of batch buffers the loader may hold at most.
    public var poolBytes: Int { poolSize * batchBytes }
    /// Bytes of batch buffers it made (at most ``poolBytes``).
    public var allocatedBytes: Int { min(buffersMade.load(ordering: .relaxed), poolSize) * batchBytes }

    /// A free buffer, a new one while the pool is not full, or else the next one freed.
    private func takeBuffer() -> Batch? {
        if let batch = free.tryPop() { return batch }
        if buffersMade.wrappingAdd(1, ordering: .relaxed).oldValue < poolSize {
            return Batch(capacity: batchSize, tileShape: source.tileShape, encoding: encoding, memory: hostMemory)
        }
        return free.pop()
    }

    /// Starts the reader threads (none when `workers == 0`).
    public func start() {
        guard workers > 0 else { return }
        running.store(workers, ordering: .sequentiallyConsistent)
        let started = (0..<workers).map { w in
            JoinableThread(name: "mgpr-reader-\(w)") { [self] in readLoop() }
        }
        threads.withLock { $0 = started }
    }

    /// The next filled batch, waiting for one; nil when every batch has been handed out
    /// or the loader was stopped. Throws the first read error, which stops the run.
    ///
    /// Once stopped, batches read ahead are dropped, not handed out: a stop (SIGTERM,
    /// SLURM's warning) ends after the batches already on a device, within one batch
    /// time, and the dropped ones, never journaled, are read again on resume.
    public func next() throws -> Batch? {
        if let error = failure.withLock({ $0 }) { throw error }
        if workers == 0 { return try readInline() }
        guard !isStopped, let batch = ready.pop() else {
            if let error = failure.withLock({ $0 }) { throw error }
            return nil
        }
        if isStopped {
            recycle(batch)
            if let error = failure.withLock({ $0 }) { throw error }
            return nil
        }
        return batch
    }

    private var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }

    /// Gives a batch's buffer back for reuse once its consumer is done with it.
    public func recycle(_ batch: Batch) { free.push(batch) }

    /// Stops handing out new batches; readers finish the batch they are on. A consumer
    /// waiting for a batch is woken at once: a reader may be blocked for long in a read
    /// (a stalled remote raster), and a stop must not wait for it.
    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        free.close()
        ready.close()
    }

    /// Waits for the reader threads to end (after the last batch, or after `stop`),
    /// at most `seconds` in all; returns how many are still running, each blocked in a
    /// read whose batch will not be used.
    public func join(timeout seconds: Double) -> Int {
        let deadline = now() + seconds
        return threads.withLock({ $0 }).filter { !$0.join(timeout: max(0, deadline - now())) }.count
    }

    /// Batches handed out so far.
    public var batchesHandedOut: Int { handing.withLock { $0.next } }

    /// Whether the feed ran dry: every tile it had was handed out in a batch.
    public var drained: Bool { handing.withLock { $0.drained } }

    /// The next batch's number and tiles; nil once stopped or the feed has no more.
    private func claim() throws -> (number: Int, tiles: [Int])? {
        try handing.withLock { handing in
            guard !isStopped, !handing.drained else { return nil }
            let tiles = try feed.take(batchSize, stopped: { isStopped })
            guard !tiles.isEmpty else {
                if !isStopped { handing.drained = true }
                return nil
            }
            defer { handing.next += 1 }
            return (handing.next, tiles)
        }
    }

    private func fill(_ batch: Batch, number k: Int, tiles indices: [Int], with reader: any TileReader) throws {
        let start = now()
        batch.number = k
        batch.tiles = []
        batch.skipped = []
        batch.missing = []
        batch.bytesRead = 0
        for index in indices {
            // An empty tile's slot is taken by the next tile: the model never sees it.
            let read = encoding == .float32
                ? try batch.withTile(batch.tiles.count) { try reader.read(index, into: $0) }
                : try batch.withTileBytes(batch.tiles.count) { try reader.read(index, stored: $0) }
            batch.bytesRead += read.bytes
            if read.empty {
                batch.skipped.append(source.info(at: index))
            } else {
                batch.tiles.append(source.info(at: index))
                batch.missing.append(read.missing)
            }
        }
        batch.readSeconds = now() - start
    }

    private func readLoop() {
        defer {
            // The last reader out closes the ready queue so consumers see the end.
            if running.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 { ready.close() }
        }
        let reader: any TileReader
        do { reader = try source.makeReader() } catch { return fail(error) }
        while true {
            let claimed: (number: Int, tiles: [Int])?
            do { claimed = try claim() } catch { return fail(error) }
            guard let (k, tiles) = claimed, let batch = takeBuffer() else { return }
            do { try fill(batch, number: k, tiles: tiles, with: reader) } catch { return fail(error) }
            ready.push(batch)
        }
    }

    private func fail(_ error: any Error) {
        failure.withLock { if $0 == nil { $0 = error } }
        stop()
    }

    private func readInline() throws -> Batch? {
        guard let (k, tiles) = try claim(), let batch = takeBuffer() else { return nil }
        do {
            try inlineReader.withLock { reader in try fill(batch, number: k, tiles: tiles, with: reader!) }
        } catch {
            free.push(batch)
            throw error
        }
        return batch
    }
}
