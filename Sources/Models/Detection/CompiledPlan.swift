import Engine

/// A compiled plan with the buffers its outputs go to (batches of different sizes may
/// come in any order, so each plan keeps its own).
final class CompiledPlan {
    let plan: any Plan
    let outputs: [UnsafeMutableBufferPointer<Float>]

    init(_ plan: any Plan) {
        self.plan = plan
        outputs = plan.outputShapes.map { .allocate(capacity: $0.count) }
    }

    deinit { outputs.forEach { $0.deallocate() } }

    var memoryBytes: Int { plan.memoryBytes + outputs.map(\.count).reduce(0, +) * 4 }

    func run(_ input: UnsafePointer<Float>) throws { try plan.run(input: input, outputs: outputs.map { $0.baseAddress! }) }
}
