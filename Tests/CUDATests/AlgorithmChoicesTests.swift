@testable import CUDA
@testable import CUDABackend
import Foundation
import Testing

/// The measured convolution algorithms kept on disk. Choosing them needs a GPU (the
/// conformance and benchmark runs do); what is kept, merged and refused is checked here.
@Suite("cuDNN algorithm choices kept on disk")
struct AlgorithmChoicesTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-algorithms-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a choice saved by one plan is read back by the next process, under the GPU model and cuDNN version")
    func roundTrip() throws {
        let cache = KernelCache(environment: ["MGPR_KERNEL_CACHE": try Self.folder()])
        let first = AlgorithmChoices(cache: cache, deviceName: "NVIDIA H200", architecture: 90, cudnnVersion: "9.10.2")
        #expect(first.file?.hasSuffix("/cudnn-9.10.2-NVIDIA_H200-sm_90.algorithms") == true)
        #expect(first.choice(for: "f16 x16x64x200x200") == nil)
        first.record(.init(algorithm: 1, memory: 4096), for: "f16 x16x64x200x200")
        first.record(.init(algorithm: 6, memory: 0), for: "f16 x16x256x50x50")
        first.save()
        let second = AlgorithmChoices(cache: cache, deviceName: "NVIDIA H200", architecture: 90, cudnnVersion: "9.10.2")
        #expect(second.choice(for: "f16 x16x64x200x200") == .init(algorithm: 1, memory: 4096))
        #expect(second.choice(for: "f16 x16x256x50x50") == .init(algorithm: 6, memory: 0))
        // Another cuDNN or GPU model searches afresh.
        #expect(AlgorithmChoices(cache: cache, deviceName: "NVIDIA H200", architecture: 90, cudnnVersion: "9.11.0")
            .choice(for: "f16 x16x64x200x200") == nil)
        #expect(AlgorithmChoices(cache: cache, deviceName: "NVIDIA H100 80GB HBM3", architecture: 90, cudnnVersion: "9.10.2")
            .choice(for: "f16 x16x64x200x200") == nil)
    }

    @Test("two processes saving keep both their choices; the later one wins a shape both measured")
    func merge() throws {
        let file = try Self.folder() + "/choices"
        let a = AlgorithmChoices(file: file), b = AlgorithmChoices(file: file)
        a.record(.init(algorithm: 1, memory: 10), for: "shared")
        a.record(.init(algorithm: 2, memory: 20), for: "only a")
        b.record(.init(algorithm: 3, memory: 30), for: "shared")
        b.record(.init(algorithm: 4, memory: 40), for: "only b")
        a.save()
        b.save()
        let read = AlgorithmChoices(file: file)
        #expect(read.choice(for: "only a") == .init(algorithm: 2, memory: 20))
        #expect(read.choice(for: "only b") == .init(algorithm: 4, memory: 40))
        #expect(read.choice(for: "shared") == .init(algorithm: 3, memory: 30))
    }

    @Test("lines that do not parse are left out, the rest kept; a missing or unwritable place costs only the search")
    func damaged() throws {
        let folder = try Self.folder(), file = folder + "/choices"
        try "good\t5\t128\nno tabs here\nnegative\t-1\t0\nletters\tx\t1\n\t1\t1\ntruncated\t7\n".write(toFile: file, atomically: true, encoding: .utf8)
        let read = AlgorithmChoices(file: file)
        #expect(read.choice(for: "good") == .init(algorithm: 5, memory: 128))
        for bad in ["no tabs here", "negative", "letters", "", "truncated"] { #expect(read.choice(for: bad) == nil) }

        let missing = AlgorithmChoices(file: folder + "/none/choices")
        #expect(missing.choice(for: "good") == nil)
        // A file where the folder should be: saving fails quietly, the choice stays for this process.
        try "x".write(toFile: folder + "/blocked", atomically: true, encoding: .utf8)
        let blocked = AlgorithmChoices(file: folder + "/blocked/choices")
        blocked.record(.init(algorithm: 1, memory: 1), for: "kept in memory")
        blocked.save()
        #expect(blocked.choice(for: "kept in memory") == .init(algorithm: 1, memory: 1))
        let memoryOnly = AlgorithmChoices(file: nil)
        memoryOnly.record(.init(algorithm: 2, memory: 2), for: "s")
        memoryOnly.save()
        #expect(memoryOnly.choice(for: "s") == .init(algorithm: 2, memory: 2))
    }
}
