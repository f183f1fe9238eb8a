import CUDA
import Engine
import Foundation
import Weights

/// A ``DetectorProgram`` compiled for one GPU, as ``DetectorLowering`` lowers it: its
/// network plans, every buffer, and the launches of the detector's kernels, all queued on
/// one stream. Nothing in it depends on the pixels' values but the counts on the device,
/// so it is captured once as a CUDA graph and replayed (`MGPR_CUDA_GRAPHS=0` runs it
/// step by step instead); only the program's outputs come back.
package final class DetectorPass: DetectorPlan {
    private let device: CUDADevice
    private let stream: CUDAStream
    private let plans: [CUDAPlan]
    private let steps: [GPUPassBuilder.Step]
    private let buffers: [DeviceBuffer]
    private let layout: DetectorPassLayout
    /// The outputs' landing place, one after the other.
    private let hostOutputs: PinnedBuffer
    private let timeline: Timeline
    private var graph: OpaquePointer?
    /// Of a run's GPU time, the share in the network, as the last step-by-step run
    /// measured it between its marks (a replayed graph's events give only its whole time).
    private var networkShare: Double?
    /// Seconds the last run spent copying and in the network (its own kernels are the rest).
    package private(set) var times = (network: 0.0, copy: 0.0)

    package var memoryBytes: Int { plans.reduce(0) { $0 + $1.memoryBytes } + buffers.reduce(0) { $0 + $1.bytes } }

    init(backend: CUDABackend, weights: WeightStore, precision: Precision, program: DetectorProgram) throws {
        let builder = try GPUPassBuilder(backend: backend, weights: weights, precision: precision)
        layout = try DetectorLowering.lower(program, into: builder)
        try builder.stream.synchronize("detector set-up")
        device = backend.device
        stream = builder.stream
        plans = builder.plans
        steps = builder.steps
        buffers = builder.buffers
        hostOutputs = try PinnedBuffer(device: device, bytes: max(4, layout.outputs.reduce(0) { $0 + $1.bytes }))
        // 0: start, 1: input copied, the marks, then the end of the work and of the copy back.
        timeline = try Timeline(device: device, count: builder.marks + 2)
        if ProcessInfo.processInfo.environment["MGPR_CUDA_GRAPHS"] != "0" { graph = try? capture() }
    }

    /// The plans, buffers, events and stream go with their last holder: the stream after
    /// every plan that queues on it.
    deinit {
        try? stream.synchronize()
        if let graph, let graphs = device.driver.graphs { _ = graphs.cuGraphExecDestroy(graph) }
    }

    package func run(input: HostBuffer, offset: Int, outputs: [HostBuffer]) throws {
        precondition(outputs.count == layout.outputs.count, "\(outputs.count) outputs for the program's \(layout.outputs.count)")
        try device.makeCurrent()
        let d = device.driver, end = timeline.count - 2
        try timeline.record(0, on: stream)
        try input.withUnsafeBytes { bytes in
            precondition(offset >= 0 && offset + layout.input.bytes <= bytes.count, "the tiles lie outside their buffer")
            try d.check(
                d.cuMemcpyHtoDAsync(layout.input.address, bytes.baseAddress! + offset, layout.input.bytes, stream.handle),
                "cuMemcpyHtoDAsync (tiles)")
        }
        try timeline.record(1, on: stream)
        // The first run goes step by step (its marks measure the network's share), the
        // rest replay the graph.
        let replay = networkShare != nil
        if replay, let graph, let graphs = d.graphs {
            try d.check(graphs.cuGraphLaunch(graph, stream.handle), "cuGraphLaunch (detector)")
        } else {
            try enqueue()
        }
        try timeline.record(end, on: stream)
        var at = 0
        for output in layout.outputs {
            try d.check(d.cuMemcpyDtoHAsync(hostOutputs.pointer + at, output.address, output.bytes, stream.handle), "cuMemcpyDtoHAsync (detections)")
            at += output.bytes
        }
        try timeline.record(end + 1, on: stream)
        try stream.synchronize("GPU \(device.ordinal)")
        measure(replayed: replay && graph != nil)
        at = 0
        for (output, host) in zip(layout.outputs, outputs) {
            host.withUnsafeMutableBytes { host in
                precondition(host.count >= output.bytes, "an output buffer of \(host.count) bytes for \(output.bytes)")
                host.baseAddress!.copyMemory(from: hostOutputs.pointer + at, byteCount: output.bytes)
            }
            at += output.bytes
        }
    }

    private func enqueue() throws {
        for step in steps {
            switch step {
            case .kernel(let launch): try launch.launch(device.driver, stream: stream)
            case .plan(let plan): try plan.enqueue()
            case .zero(let address, let bytes):
                let d = device.driver
                try d.check(d.cuMemsetD32Async(address, 0, bytes / 4, stream.handle), "cuMemsetD32Async")
            case .mark(let index, _): try timeline.record(index, on: stream)
            }
        }
    }

    /// The pass as a CUDA graph, or nil where the driver cannot capture it.
    private func capture() throws -> OpaquePointer? {
        let d = device.driver
        guard let graphs = d.graphs else { return nil }
        try d.check(graphs.cuStreamBeginCapture(stream.handle, Driver.captureThreadLocal), "cuStreamBeginCapture")
        let queued = Result { try enqueue() }
        var captured: OpaquePointer?
        let ended = graphs.cuStreamEndCapture(stream.handle, &captured)
        defer { if let captured { _ = graphs.cuGraphDestroy(captured) } }
        try queued.get()
        try d.check(ended, "cuStreamEndCapture")
        var exec: OpaquePointer?
        try d.check(graphs.cuGraphInstantiateWithFlags(&exec, captured, 0), "cuGraphInstantiateWithFlags")
        return exec
    }

    /// The copy and network seconds of the last run, from its events: the copies from
    /// the events around them; the network from the marks between the steps, or for a
    /// replayed graph, its time in the share the step-by-step run measured.
    private func measure(replayed: Bool) {
        let end = timeline.count - 2
        guard let copyIn = try? timeline.seconds(from: 0, to: 1), let copyOut = try? timeline.seconds(from: end, to: end + 1),
              let work = try? timeline.seconds(from: 1, to: end)
        else { return }
        if !replayed {
            var network = 0.0
            for case .mark(let index, true) in steps { network += (try? timeline.seconds(from: index - 1, to: index)) ?? 0 }
            networkShare = work > 0 ? min(1, network / work) : 0
        }
        times = (copyIn + copyOut, work * (networkShare ?? 1))
    }
}

/// The GPU's side of the wiring: device buffers, uploads on the pass's stream, plans
/// compiled for this GPU, and the steps in the order they are queued.
final class GPUPassBuilder: DetectorPassBuilder {
    enum Step {
        case kernel(KernelLaunch)
        case plan(CUDAPlan)
        case zero(address: UInt64, bytes: Int)
        /// Event `index` of the timeline; the time since the previous one was the
        /// network's (else the detector's own steps).
        case mark(index: Int, network: Bool)
    }

    let stream: CUDAStream
    private let backend: CUDABackend
    private let weights: WeightStore
    private let type: ElementType
    private let module: KernelModule, kernels: KernelModule
    private(set) var steps: [Step] = [], buffers: [DeviceBuffer] = [], plans: [CUDAPlan] = []
    /// Marks so far, after the timeline's first two (start, tiles copied).
    private(set) var marks = 2

    init(backend: CUDABackend, weights: WeightStore, precision: Precision) throws {
        try backend.device.makeCurrent()
        stream = try CUDAStream(device: backend.device)
        (self.backend, self.weights, type) = (backend, weights, precision.elementType)
        module = try backend.module(type)
        kernels = try backend.detectionModule()
    }

    func buffer(_ bytes: Int) throws -> UInt64 {
        let b = try backend.device.allocate(bytes)
        buffers.append(b)
        return b.address
    }

    func upload<T>(_ values: [T]) throws -> UInt64 {
        let address = try buffer(values.count * MemoryLayout<T>.stride), d = backend.device.driver
        try values.withUnsafeBytes { try d.check(d.cuMemcpyHtoDAsync(address, $0.baseAddress, $0.count, stream.handle), "cuMemcpyHtoDAsync") }
        return address
    }

    func network(_ graph: Graph) throws -> CUDAPlan {
        let plan = try CUDAPlan(
            graph: graph, weights: weights, type: type, tf32: backend.tf32, device: backend.device, module: module,
            choices: backend.algorithmChoices, stream: stream)
        plans.append(plan)
        return plan
    }

    func launch(_ name: String, count: Int?, blocks: Int?, threads: Int, _ arguments: [KernelLaunch.Argument]) {
        steps.append(.kernel(KernelLaunch(kernels, name, device: backend.device, count: count, blocks: blocks, threads: threads, arguments)))
    }

    func run(_ network: CUDAPlan) { steps.append(.plan(network)) }

    func zero(_ address: UInt64, bytes: Int) { steps.append(.zero(address: address, bytes: bytes)) }

    func mark(network: Bool) {
        steps.append(.mark(index: marks, network: network))
        marks += 1
    }
}

extension CUDAPlan: DetectorPassNetwork {}
