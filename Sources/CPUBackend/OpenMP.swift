import Foundation

/// The OpenMP runtime oneDNN runs on (libgomp, which comes in through libdnnl rather
/// than our own link line, so its functions are found with dlsym).
enum OpenMP {
    private typealias SetThreads = @convention(c) (Int32) -> Void
    private typealias Query = @convention(c) () -> Int32
    /// GCC's entry point for `#pragma omp parallel num_threads(n)`: runs the function on
    /// the calling thread and n - 1 of the pool's, and returns when all have.
    private typealias Parallel = @convention(c) (
        @convention(c) (UnsafeMutableRawPointer?) -> Void, UnsafeMutableRawPointer?, UInt32, UInt32
    ) -> Void

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        dlsym(nil, name).map { unsafeBitCast($0, to: type) }  // RTLD_DEFAULT
    }

    private static let setThreads = symbol("omp_set_num_threads", as: SetThreads.self)
    private static let parallel = symbol("GOMP_parallel", as: Parallel.self)
    private static let threadNumber = symbol("omp_get_thread_num", as: Query.self)
    private static let teamSize = symbol("omp_get_num_threads", as: Query.self)

    /// The calling thread's thread count for the parallel regions it starts (oneDNN's).
    static func setThreads(_ count: Int) { setThreads?(Int32(count)) }

    /// Whether ``team(_:_:)`` can run: the runtime is GCC's.
    static var hasTeams: Bool { parallel != nil && threadNumber != nil && teamSize != nil }

    /// Runs `body(thread, count)` on a team of `count` <= `threads` threads of oneDNN's own
    /// pool, so work between primitives neither waits for that pool's threads to stop
    /// spinning nor competes with them; a primitive run inside runs on its caller alone.
    static func team(_ threads: Int, _ body: (_ thread: Int, _ count: Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var context = body
            withUnsafeMutablePointer(to: &context) { context in
                parallel!({ raw in
                    let body = raw!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee
                    body(Int(OpenMP.threadNumber!()), Int(OpenMP.teamSize!()))
                }, UnsafeMutableRawPointer(context), UInt32(threads), 0)
            }
        }
    }
}
