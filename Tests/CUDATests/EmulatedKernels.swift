@testable import CUDA
@testable import CUDABackend
import Foundation
import Synchronization

/// The detector's CUDA C kernels (or the graph's, `graphKernels`) run on this CPU: their source compiled as C++ (no fused
/// multiply-adds, as NVRTC is told) against a small model of CUDA's execution (every
/// thread of a block a real thread, `__syncthreads` a barrier, `__shared__` one variable
/// per block as blocks run one after another, atomics as atomics), so the kernels' own
/// logic (selection, sorting, NMS, indexing) is checked on every machine, GPU or not.
/// It models only what these kernels use; on a GPU the same checks run on the device.
final class EmulatedKernels: KernelRunner {
    private typealias Launch = @convention(c) (UnsafePointer<CChar>, UInt32, UInt32, UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Int32
    private let handle: UnsafeMutableRawPointer
    private let launchFunction: Launch
    private var allocations: [UnsafeMutableRawPointer] = []
    private static let launches = Mutex(())

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// Compiles the kernels with the first C++20 compiler found (clang++ ships with Swift):
    /// the detector's, or the graph's in float32 (`graphKernels`).
    init(graphKernels: Bool = false) throws {
        // A folder of its own: a second runner must not rewrite a library the first has loaded.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-emulated-kernels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = folder.appendingPathComponent("kernels.cpp"), library = folder.appendingPathComponent("kernels.so")
        let names = graphKernels ? Kernels.names : DetectionKernels.names
        let kernels = graphKernels ? "#define MGPR_F32\n" + Kernels.source : DetectionKernels.source
        let dispatch = names.map { "    KERNEL(\($0))" }.joined(separator: "\n")
        try (Self.model + kernels + Self.entry.replacingOccurrences(of: "$KERNELS", with: dispatch))
            .write(to: source, atomically: true, encoding: .utf8)
        var failures: [String] = []
        var built = false
        for compiler in ["clang++", "g++", "c++"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [compiler, "-std=c++20", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-pthread", "-w",
                                 "-o", library.path, source.path]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            do { try process.run() } catch { failures.append("\(compiler): \(error)"); continue }
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if process.terminationStatus == 0 { built = true; break }
            failures.append("\(compiler): " + message.split(separator: "\n").prefix(3).joined(separator: " | "))
        }
        guard built else { throw Unavailable(description: "no C++20 compiler built the kernels: " + failures.joined(separator: "; ")) }
        guard let handle = dlopen(library.path, RTLD_NOW) else { throw Unavailable(description: String(cString: dlerror())) }
        self.handle = handle
        launchFunction = unsafeBitCast(dlsym(handle, "emu_launch"), to: Launch.self)
    }

    deinit {
        allocations.forEach { $0.deallocate() }
        dlclose(handle)
    }

    func upload<T>(_ values: [T]) throws -> UInt64 {
        let bytes = max(values.count * MemoryLayout<T>.stride, 16)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        allocations.append(memory)
        values.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return UInt64(UInt(bitPattern: memory))
    }

    func download<T>(_ address: UInt64, count: Int) throws -> [T] {
        let memory = UnsafeRawPointer(bitPattern: UInt(address))!
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: memory, byteCount: count * MemoryLayout<T>.stride)
            initialized = count
        }
    }

    func run(kernel name: String, count: Int?, blocks: Int?, threads: Int, arguments: [KernelLaunch.Argument]) throws {
        // A grid-stride kernel's result does not depend on its grid: a few blocks will do.
        let grid = blocks ?? min(4, max(1, ((count ?? 1) + threads - 1) / threads))
        let marshalled = KernelArguments(arguments)
        // One launch at a time in the process: the model's grid, block and barrier, and a
        // kernel's `__shared__` variables, are the library's globals.
        let status = Self.launches.withLock { _ in launchFunction(name, UInt32(grid), UInt32(threads), marshalled.parameters) }
        guard status == 0 else {
            throw Unavailable(description: "no kernel \(name) in the emulated module")
        }
    }

    /// CUDA's execution as these kernels use it.
    private static let model = #"""
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>
#include <utility>
#include <vector>
struct dim3 { unsigned x = 1, y = 1, z = 1; };
static thread_local dim3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;
static std::barrier<>* blockBarrier;
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
static inline void __syncthreads() { blockBarrier->arrive_and_wait(); }
static inline int __syncthreads_or(int predicate) {
    static std::atomic<int> any{0};
    blockBarrier->arrive_and_wait();
    if (predicate) any.store(1);
    blockBarrier->arrive_and_wait();
    int result = any.load();
    blockBarrier->arrive_and_wait();
    if (threadIdx.x == 0) any.store(0);
    return result;
}
static inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
static inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
using std::min;
using std::max;

"""#

    /// `emu_launch(name, grid, block, parameters)`: the blocks one after another, each
    /// block's threads at once; parameters as cuLaunchKernel takes them.
    private static let entry = #"""

template <typename... A, std::size_t... I>
static void invoke(void (*kernel)(A...), void** p, std::index_sequence<I...>) { kernel(*static_cast<A*>(p[I])...); }

template <typename... A>
static void run(void (*kernel)(A...), unsigned grid, unsigned block, void** p) {
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned b = 0; b < grid; b++) {
        std::barrier<> barrier(block);
        blockBarrier = &barrier;
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < block; t++)
            threads.emplace_back([=] { blockIdx.x = b; threadIdx.x = t; invoke(kernel, p, std::index_sequence_for<A...>{}); });
        for (auto& thread : threads) thread.join();
    }
}

extern "C" int emu_launch(const char* name, unsigned grid, unsigned block, void** p) {
#define KERNEL(k) if (!std::strcmp(name, #k)) { run(k, grid, block, p); return 0; }
$KERNELS
    return 1;
}
"""#
}
