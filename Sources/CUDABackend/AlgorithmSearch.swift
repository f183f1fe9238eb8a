import CUDA

/// Picks each convolution's algorithm by running cuDNN's candidates on the plan's own
/// buffers (as `torch.backends.cudnn.benchmark` does), within a scratch workspace made
/// for the search, unless `choices` already holds one measured for the same
/// convolution on this GPU model and cuDNN; where measuring fails it takes cuDNN's
/// heuristic first choice (not kept: the next plan measures again).
final class AlgorithmSearch {
    /// Workspace for the search, and for trying an algorithm before a plan keeps it.
    let scratch: DeviceBuffer
    let choices: AlgorithmChoices

    init(device: CUDADevice, choices: AlgorithmChoices) throws(CUDAError) {
        self.choices = choices
        // A quarter of what is free, at most 1 GiB: the algorithms that need more are
        // rarely the fastest, and the plan must leave room for batches and other plans.
        let free = (try? device.memoryInfo().free) ?? 0
        scratch = try device.allocate(max(16 << 20, min(1 << 30, free / 4)))
    }

    typealias Operands = (
        x: OpaquePointer?, input: UInt64, w: OpaquePointer?, weight: UInt64, descriptor: OpaquePointer?, y: OpaquePointer?,
        output: UInt64
    )

    /// - Parameter signature: what the choice depends on besides the GPU and cuDNN (types,
    ///   math, shapes, geometry), the key it is kept under.
    func fastest(
        cudnn: CUDNN, handle: OpaquePointer?, step: Operands, signature: String, name: String
    ) throws(CUDAError) -> (algorithm: Int32, memory: Int) {
        if let known = choices.choice(for: signature), known.memory <= scratch.bytes { return (known.algorithm, known.memory) }
        func pointer(_ a: UInt64) -> UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: UInt(a)) }
        var results = [CUDNN.AlgorithmPerformance](repeating: .init(), count: 8)
        var returned: Int32 = 0
        let measured = results.withUnsafeMutableBytes {
            cudnn.cudnnFindConvolutionForwardAlgorithmEx(
                handle, step.x, pointer(step.input), step.w, pointer(step.weight), step.descriptor, step.y, pointer(step.output),
                8, &returned, $0.baseAddress!, scratch.pointer, scratch.bytes)
        }
        if measured == 0, let best = results.prefix(Int(returned)).first(where: { $0.status == 0 && $0.memory <= scratch.bytes }) {
            choices.record(.init(algorithm: best.algorithm, memory: best.memory), for: signature)
            return (best.algorithm, best.memory)
        }
        let heuristic = results.withUnsafeMutableBytes {
            cudnn.cudnnGetConvolutionForwardAlgorithm_v7(handle, step.x, step.w, step.descriptor, step.y, 8, &returned, $0.baseAddress!)
        }
        try cudnn.check(heuristic, "cudnnGetConvolutionForwardAlgorithm_v7 (\(name))")
        guard let first = results.prefix(Int(returned)).first(where: { $0.status == 0 }) else {
            throw .cudnn(call: "cudnnGetConvolutionForwardAlgorithm_v7 (\(name))", code: 9, message: "no algorithm supports this convolution")
        }
        return (first.algorithm, first.memory)
    }
}
