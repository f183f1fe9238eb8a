import Dispatch
import Engine
import Foundation

/// `nn.GroupNorm` (+ ReLU) over an NHWC float32 value in the plan's arena: oneDNN 3.2
/// has no group normalisation primitive. Two passes, summed in Double: the mean, then
/// the squared deviations from it, so a large mean (features near 100 that vary by 1)
/// costs the variance no precision, as E[x^2] - E[x]^2 would.
///
/// Unchecked Sendable: `run` splits the pixels into chunks, and each chunk reads and
/// writes only its own rows and its own slot of the partial sums.
final class GroupNormKernel: @unchecked Sendable {
    private let input: UnsafePointer<Float>
    private let output: UnsafeMutablePointer<Float>
    private let shape: Shape4
    private let groups: Int
    private let gamma: [Float]
    private let beta: [Float]
    private let eps: Float
    private let relu: Bool
    private let chunks: Int
    /// Per chunk and group, a partial sum (of values, then of squared deviations); per
    /// channel, its group's mean and the scale (1/std x gamma). Allocated here: `run`
    /// allocates nothing.
    private let partial: UnsafeMutablePointer<Double>
    private let mean: UnsafeMutablePointer<Float>
    private let scale: UnsafeMutablePointer<Float>

    init(_ op: Graph.GroupNorm, shape: Shape4, input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
         weight: [Float], bias: [Float], threads: Int) {
        self.input = input.assumingMemoryBound(to: Float.self)
        self.output = output.assumingMemoryBound(to: Float.self)
        self.shape = shape
        groups = op.groups
        gamma = weight
        beta = bias
        eps = op.eps
        relu = op.relu
        chunks = max(1, min(threads, shape.h * shape.w))
        partial = .allocate(capacity: chunks * groups)
        mean = .allocate(capacity: shape.c)
        scale = .allocate(capacity: shape.c)
    }

    deinit {
        partial.deallocate()
        mean.deallocate()
        scale.deallocate()
    }

    func run() {
        let count = Double(pixels * perGroup)
        for n in 0..<shape.n {
            DispatchQueue.concurrentPerform(iterations: chunks) { sum(image: n, chunk: $0, deviations: false) }
            for g in 0..<groups { setGroup(g, mean: Float(total(g) / count)) }
            DispatchQueue.concurrentPerform(iterations: chunks) { sum(image: n, chunk: $0, deviations: true) }
            for g in 0..<groups {
                let inverse = 1 / (total(g) / count + Double(eps)).squareRoot()
                for k in channels(g) { scale[k] = Float(inverse * Double(gamma[k])) }
            }
            DispatchQueue.concurrentPerform(iterations: chunks) { normalise(image: n, chunk: $0) }
        }
    }

    private func channels(_ g: Int) -> Range<Int> { (g * perGroup)..<((g + 1) * perGroup) }

    private func total(_ g: Int) -> Double { (0..<chunks).reduce(0) { $0 + partial[$1 * groups + g] } }

    private func setGroup(_ g: Int, mean value: Float) { for k in channels(g) { mean[k] = value } }

    private var pixels: Int { shape.h * shape.w }
    private var perGroup: Int { shape.c / groups }

    private func rows(_ chunk: Int) -> Range<Int> { (chunk * pixels / chunks)..<((chunk + 1) * pixels / chunks) }

    /// This chunk's per-group sum of the values, or of their squared deviations from the mean.
    private func sum(image n: Int, chunk: Int, deviations: Bool) {
        let c = shape.c, x = input + n * pixels * c, s = partial + chunk * groups
        s.update(repeating: 0, count: groups)
        for p in rows(chunk) {
            let row = x + p * c
            for g in 0..<groups {
                var total: Float = 0
                if deviations {
                    for k in channels(g) { let d = row[k] - mean[k]; total += d * d }
                } else {
                    for k in channels(g) { total += row[k] }
                }
                s[g] += Double(total)
            }
        }
    }

    private func normalise(image n: Int, chunk: Int) {
        let c = shape.c, x = input + n * pixels * c, y = output + n * pixels * c
        for p in rows(chunk) {
            let from = x + p * c, to = y + p * c
            for k in 0..<c {
                let v = (from[k] - mean[k]) * scale[k] + beta[k]
                to[k] = relu ? max(v, 0) : v
            }
        }
    }
}
