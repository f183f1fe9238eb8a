#if canImport(Glibc)
import Glibc
#endif

/// A shared library opened at run time. Never closed: CUDA's libraries keep threads and
/// state that must outlive every plan, so they stay loaded until the process ends.
package final class DynamicLibrary: @unchecked Sendable {
    package let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens `path` (global, so libraries that load their own parts by name find it).
    package init(path: String) throws(CUDAError) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL) else {
            throw .libraryUnusable(path: path, reason: dlerror().map { String(cString: $0) } ?? "dlopen failed")
        }
        self.path = path
        self.handle = handle
    }

    /// The function `name` as the C function type `F` (the caller states the prototype).
    package func function<F>(_ name: String) throws(CUDAError) -> F {
        guard let symbol = dlsym(handle, name) else { throw .missingSymbol(library: path, symbol: name) }
        return unsafeBitCast(symbol, to: F.self)
    }

    package func hasSymbol(_ name: String) -> Bool { dlsym(handle, name) != nil }
}
