import CPUBackend
@testable import CUDABackend
import Engine
import Foundation
import Testing
import Weights

/// The graph kernels a segmentation needs beyond cuDNN (bilinear resize, concatenation's
/// channel copies), compiled as C++ and run with one CPU thread per CUDA thread in
/// float32, against the CPU backend's resize (held to PyTorch in ResizeConcatTests) and
/// plain indexing. On a GPU, `mgpr conformance` holds them to the CPU on the device.
@Suite("Graph kernels, emulated", .serialized)
struct EmulatedGraphKernelTests {
    /// NCHW to NHWC.
    static func nhwc(_ v: [Float], _ s: Shape4) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        for n in 0..<s.n { for c in 0..<s.c { for p in 0..<(s.h * s.w) { out[(n * s.h * s.w + p) * s.c + c] = v[(n * s.c + c) * s.h * s.w + p] } } }
        return out
    }

    @Test("mgpr_resize_bilinear equals the CPU backend, both align_corners, up, down and a 1x1 broadcast",
          .needsCXXCompiler, arguments: [(7, 6, 56, 48, false), (20, 20, 13, 29, true), (1, 1, 9, 5, false), (5, 9, 1, 17, true)])
    func resize(h: Int, w: Int, outH: Int, outW: Int, alignCorners: Bool) throws {
        let runner = try EmulatedKernels(graphKernels: true)
        let from = Shape4(n: 2, c: 3, h: h, w: w), to = Shape4(n: 2, c: 3, h: outH, w: outW)
        let input = (0..<from.count).map { sinf(Float($0) * 0.37) * 2 }
        var b = GraphBuilder(input: from)
        b.markOutput(b.resizeBilinear(b.graph.input, height: outH, width: outW, alignCorners: alignCorners))
        let plan = try CPUBackend(threads: 2).compile(b.graph, weights: WeightStore(path: "none", tensors: [:]), precision: .f32)
        let expected = HostBuffer(count: to.count)
        try plan.run(input: HostBuffer(input), outputs: [expected])

        let src = try runner.upload(Self.nhwc(input, from)), dst = try runner.upload([Float](repeating: .nan, count: to.count))
        try runner.run(kernel: "mgpr_resize_bilinear", count: to.count, blocks: nil, threads: 64, arguments: [
            .address(src), .address(dst), .int(Int32(h)), .int(Int32(w)), .int(Int32(outH)), .int(Int32(outW)), .int(3),
            .int(alignCorners ? 1 : 0), .long(Int64(to.count)),
        ])
        let got: [Float] = try runner.download(dst, count: to.count)
        let want = Self.nhwc(expected.array, to)
        let worst = zip(got, want).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-5 * (want.map(abs).max()! + 1e-6), "worst \(worst)")
    }

    @Test("mgpr_copy_channels puts each input into its channels of the concatenation", .needsCXXCompiler)
    func copyChannels() throws {
        let runner = try EmulatedKernels(graphKernels: true)
        let pixels = 2 * 5 * 4
        let a = (0..<(pixels * 3)).map(Float.init), b = (0..<(pixels * 4)).map { Float($0) + 1000 }
        let dst = try runner.upload([Float](repeating: .nan, count: pixels * 7))
        for (values, channels, first) in [(a, 3, 0), (b, 4, 3)] {
            try runner.run(kernel: "mgpr_copy_channels", count: values.count, blocks: nil, threads: 32, arguments: [
                .address(try runner.upload(values)), .address(dst), .int(Int32(channels)), .int(7), .int(Int32(first)),
                .long(Int64(values.count)),
            ])
        }
        let got: [Float] = try runner.download(dst, count: pixels * 7)
        for p in 0..<pixels {
            #expect(Array(got[(p * 7)..<(p * 7 + 3)]) == Array(a[(p * 3)..<(p * 3 + 3)]))
            #expect(Array(got[(p * 7 + 3)..<(p * 7 + 7)]) == Array(b[(p * 4)..<(p * 4 + 4)]))
        }
    }
}
