/// Events recorded at fixed points of a stream's work (inside a CUDA graph too, as its
/// event nodes), and the milliseconds between them once the work is done: the stage
/// times of a pass without stopping the GPU between stages.
final class Timeline {
    private let device: CUDADevice
    private let events: [OpaquePointer?]

    init(device: CUDADevice, count: Int) throws {
        self.device = device
        let d = device.driver
        events = try (0..<count).map { _ in
            var event: OpaquePointer?
            try d.check(d.cuEventCreate(&event, 0), "cuEventCreate")
            return event
        }
    }

    deinit { events.forEach { _ = device.driver.cuEventDestroy($0) } }

    var count: Int { events.count }

    func record(_ index: Int, on stream: OpaquePointer) throws {
        try device.driver.check(device.driver.cuEventRecord(events[index], stream), "cuEventRecord")
    }

    /// Seconds from event `first` to event `last`, once both are recorded and done.
    func seconds(from first: Int, to last: Int) throws -> Double {
        var milliseconds: Float = 0
        try device.driver.check(device.driver.cuEventElapsedTime(&milliseconds, events[first], events[last]), "cuEventElapsedTime")
        return Double(milliseconds) / 1000
    }
}
