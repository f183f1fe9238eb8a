import Foundation
import Testing
import TestSupport
import Tiling
@testable import Weights

/// Weights files whose numbers point outside themselves (reference/make_weights.py):
/// each is refused with one line naming the file and the tensor, never read past its
/// storage and never a crash. And a fuzz test: seeded mutations of valid files, every
/// one a clean error or a load.
@Suite("Hostile weights files")
struct HostileFileTests {
    static var fixtures: URL { TestSupport.packageRoot.appendingPathComponent(".fixtures/weights") }

    static func file(_ name: String) throws -> String {
        let path = fixtures.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else { throw TestSupport.FixtureMissing(path: path) }
        return path
    }

    @Test("the hostile files' honest twin loads, with its values")
    func honestTwin() throws {
        let store = try WeightStore(contentsOf: try Self.file("hostile/pth_valid.pth"))
        #expect(store["w"] == HostTensor(shape: [2, 3], values: [0, 1, 2, 3, 4, 5]))
        let small = try WeightStore(contentsOf: try Self.file("small.pth"))
        #expect(small["c"] == HostTensor(shape: [4, 3], values: [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]))
        let safetensors = try WeightStore(contentsOf: try Self.file("small.safetensors"))
        #expect(safetensors["a"] == small["a"] && safetensors["b"] == small["b"])
    }

    @Test("offsets, sizes, strides and lengths outside the file are refused, naming the tensor", arguments: [
        ("pth_offset_-10.pth", "'w' has a negative storage offset -10"),
        ("pth_offset_-10000000.pth", "'w' has a negative storage offset -10000000"),
        ("pth_offset_-1000000000.pth", "'w' has a negative storage offset -1000000000"),
        ("pth_stride_huge.pth", "'w' reaches past its storage (offset 0, shape [2, 3], strides [4611686018427387904, 1])"),
        ("pth_size_huge.pth", "'w' has an impossible shape [4294967296, 4294967296]"),
        ("pth_numel_huge.pth", "'w' has an impossible storage size of 4611686018427387904 elements"),
        ("st_header_18446744073709551615.safetensors", "header length 18446744073709551615 runs past the end of the file"),
        ("st_header_9223372036854775808.safetensors", "header length 9223372036854775808 runs past the end of the file"),
        ("st_shape_overflow.safetensors", "'a' has an impossible shape [4294967296, 4294967296]"),
        ("st_overlap.safetensors", "'a' and 'b' share bytes 16..<24"),
        ("st_duplicate.safetensors", "the header names 'a' twice"),
    ])
    func refused(name: String, reason: String) throws {
        let path = try Self.file("hostile/\(name)")
        let error = #expect(throws: WeightsError.self) { try WeightStore(contentsOf: path) }
        guard case .malformed(let where_, let why) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(where_ == path)
        #expect(why.hasPrefix(reason), "\(why)")
        #expect(!(error?.description.contains("\n") ?? true))
    }

    /// Seeded edits, so every run mutates the same way.
    struct Mutator {
        var random: SplitMix
        init(state: UInt64) { random = SplitMix(state) }
        mutating func next() -> UInt64 { random.next() }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

        /// One to four edits within `range`: a byte flipped, set to an edge value, an
        /// 8-byte integer overwritten with an edge value, or the file cut short.
        mutating func mutate(_ bytes: [UInt8], within range: Range<Int>) -> [UInt8] {
            var b = bytes
            let edges: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0xFFFF_FFFF, 1 << 31, 1 << 62, .max, UInt64(bitPattern: -10)]
            for _ in 0..<(1 + below(4)) {
                let end = min(range.upperBound, b.count)  // an earlier cut may have shortened it
                guard end > range.lowerBound else { break }
                let at = range.lowerBound + below(end - range.lowerBound)
                switch below(5) {
                case 0: b[at] ^= UInt8(1 << below(8))
                case 1: b[at] = UInt8(truncatingIfNeeded: edges[below(edges.count)])
                case 2:
                    let value = edges[below(edges.count)]
                    for k in 0..<8 where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
                case 3: b[at] = UInt8(truncatingIfNeeded: next())
                default: b = Array(b.prefix(at))
                }
            }
            return b
        }
    }

    /// Every mutant either loads (each tensor's values filling its shape) or throws a
    /// WeightsError; a trap or a read outside the buffer would end the test process.
    func fuzz(_ bytes: [UInt8], within range: Range<Int>, seed: UInt64, load: (UnsafeRawBufferPointer) throws -> [String: HostTensor])
        -> (loaded: Int, refused: Int)
    {
        var mutator = Mutator(state: seed)
        var loaded = 0, refused = 0
        for _ in 0..<4000 {
            let mutant = mutator.mutate(bytes, within: range)
            do {
                let tensors = try mutant.withUnsafeBytes { try load($0) }
                #expect(tensors.values.allSatisfy { $0.values.count == $0.shape.reduce(1, *) })
                loaded += 1
            } catch is WeightsError {
                refused += 1
            } catch {
                Issue.record("not a WeightsError: \(error)")
            }
        }
        return (loaded, refused)
    }

    @Test("fuzz: seeded mutations of a .pth (zip, pickle, storages) are clean errors or loads")
    func fuzzPyTorch() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Self.file("small.pth"))))
        let pickle = try bytes.withUnsafeBytes { raw in
            try ZipArchive(raw, path: "small.pth").entries.values.first { $0.name.hasSuffix("data.pkl") }!.range
        }
        for (range, seed) in [(0..<bytes.count, UInt64(1)), (pickle, 2)] {
            let (loaded, refused) = fuzz(bytes, within: range, seed: seed) { try PyTorchCheckpoint.load($0, path: "small.pth") }
            #expect(loaded > 0 && refused > 0, "loaded \(loaded), refused \(refused)")
        }
    }

    @Test("fuzz: seeded mutations of a .safetensors are clean errors or loads")
    func fuzzSafeTensors() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Self.file("small.safetensors"))))
        let (loaded, refused) = fuzz(bytes, within: 0..<bytes.count, seed: 3) { try SafeTensors.load($0, path: "small.safetensors") }
        #expect(loaded > 0 && refused > 0, "loaded \(loaded), refused \(refused)")
    }
}
