import Foundation
import Results
import Synchronization

/// One run: a loader feeding `devices` x `lanes` device workers, each a thread driving its own
/// model, all pulling from the loader's one queue, so a faster device takes more
/// batches and none idles while another has a backlog.
public final class InferenceRun: Sendable {
    public typealias ModelFactory = @Sendable (_ device: Int) throws -> any TileModel
    public typealias OutputHandler = @Sendable (_ batch: Batch, _ outputs: [TileOutput]) throws -> Void

    public let loader: Loader
    public let devices: Int
    /// Workers per device: on a GPU two, so that one batch's copy to the device and the
    /// host's work around it overlap the other's compute. Each lane has its own model
    /// (plans, stream); a device's summary adds its lanes up.
    public let lanes: Int
    public let deviceName: @Sendable (Int) -> String
    private let makeModel: ModelFactory
    private let handleOutputs: OutputHandler
    private let recorder: RunRecorder
    private let progress: ProgressBar?
    private let failure = Mutex<(any Error)?>(nil)
    private let threadTimes = ThreadTimes()

    public init(
        loader: Loader, devices: Int, lanes: Int = 1, deviceName: @escaping @Sendable (Int) -> String = { "CPU \($0)" },
        makeModel: @escaping ModelFactory, handleOutputs: @escaping OutputHandler = { _, _ in },
        recorder: RunRecorder, progress: ProgressBar?
    ) {
        precondition(devices > 0 && lanes > 0)
        self.lanes = lanes
        self.loader = loader
        self.devices = devices
        self.deviceName = deviceName
        self.makeModel = makeModel
        self.handleOutputs = handleOutputs
        self.recorder = recorder
        self.progress = progress
    }

    /// Seconds a run waits, once its devices are done, for readers still in a read.
    static let readerGrace = 2.0

    /// Stops taking new batches; batches already on a device finish. Safe from any thread.
    public func stop() { loader.stop() }

    /// Runs to the end (or until stopped) and returns what it measured.
    /// Throws the first error of any reader or device, after every thread has ended.
    public func run() throws -> RunSummary {
        let start = now()
        loader.start()
        progress?.begin()
        let sampling = DispatchSemaphore(value: 0)
        let sampler = JoinableThread(name: "mgpr-sampler") { [threadTimes] in
            while sampling.wait(timeout: .now() + 1) == .timedOut { threadTimes.sample() }
        }
        let workers = (0..<(devices * lanes)).map { worker in
            JoinableThread(name: "mgpr-device-\(worker / lanes)-\(worker % lanes)") { [self] in
                drive(device: worker / lanes, start: start)
                threadTimes.sample()  // before this thread, and the OpenMP workers it started, end
            }
        }
        for worker in workers { worker.join() }
        sampling.signal()
        sampler.join()
        loader.stop()
        // Readers end at once after a stop, unless one is blocked in a read (a stalled
        // remote raster's, bounded only by GDAL's timeouts): that one is left behind.
        let blocked = loader.join(timeout: Self.readerGrace)
        if blocked > 0 { AbandonedThreads.record(blocked) }
        recorder.close()
        progress?.finish()
        if let error = failure.withLock({ $0 }) { throw error }
        return summarize(elapsed: now() - start)
    }

    private func drive(device: Int, start: Double) {
        do {
            let model = try makeModel(device)
            while true {
                let waitStart = now()
                guard let batch = try loader.next() else { return }
                let busyStart = now()
                let outputs = batch.count > 0 ? try model.predict(batch) : []
                let busyEnd = now()
                try handleOutputs(batch, outputs)
                recorder.record(
                    BatchRecord(
                        batch: batch.number, device: device, tiles: batch.count, skipped: batch.skipped.count,
                        waitSeconds: busyStart - waitStart, readSeconds: batch.readSeconds,
                        busySeconds: busyEnd - busyStart, writeSeconds: now() - busyEnd,
                        networkSeconds: batch.count > 0 ? model.lastNetworkSeconds ?? busyEnd - busyStart : 0,
                        copySeconds: batch.count > 0 ? model.lastCopySeconds ?? 0 : 0,
                        bytesRead: batch.bytesRead,
                        finishedAt: now() - start, peakRSSBytes: ProcessMemory.peakResidentBytes,
                        deviceBytes: model.deviceBytes + loader.batchBytes))
                loader.recycle(batch)
                progress?.advance(tiles: batch.count + batch.skipped.count)
            }
        } catch {
            failure.withLock { if $0 == nil { $0 = error } }
            loader.stop()
        }
    }

    private func summarize(elapsed: Double) -> RunSummary {
        let records = recorder.records, usage = threadTimes.usage()
        return RunSummary(
            records: records, deviceNames: (0..<devices).map(deviceName), elapsed: elapsed,
            peakRSSBytes: ProcessMemory.peakResidentBytes, loaderPoolBytes: loader.allocatedBytes,
            complete: loader.drained && records.count == loader.batchesHandedOut,
            compute: { .init(threads: usage.threadsUsed(device: $0), cpuSeconds: usage.computeSeconds(device: $0)) },
            cpuSeconds: usage.cpuSeconds, readerCPUSeconds: usage.readerSeconds)
    }
}
