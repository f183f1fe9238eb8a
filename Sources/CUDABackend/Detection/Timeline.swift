import CUDA

/// Events recorded at fixed points of a stream's work (inside a CUDA graph too, as its
/// event nodes), and the seconds between them once the work is done: the stage times
/// of a pass without stopping the GPU between stages.
final class Timeline {
    private let events: [CUDAEvent]

    init(device: CUDADevice, count: Int) throws {
        events = try (0..<count).map { _ in try CUDAEvent(device: device) }
    }

    var count: Int { events.count }

    func record(_ index: Int, on stream: CUDAStream) throws {
        try events[index].record(on: stream)
    }

    /// Seconds from event `first` to event `last`, once both are recorded and done.
    func seconds(from first: Int, to last: Int) throws -> Double {
        try events[last].seconds(since: events[first])
    }
}
