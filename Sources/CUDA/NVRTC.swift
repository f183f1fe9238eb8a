import Foundation

/// NVRTC, CUDA's run-time compiler (libnvrtc), opened at run time: kernels that no
/// library has are CUDA C compiled for the device's own architecture.
package struct NVRTC: Sendable {
    package typealias Program = OpaquePointer?
    package let library: String
    package let nvrtcVersion: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32
    package let nvrtcCreateProgram: @convention(c) (
        UnsafeMutablePointer<Program>, UnsafePointer<CChar>, UnsafePointer<CChar>?, Int32,
        UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?
    ) -> Int32
    package let nvrtcCompileProgram: @convention(c) (Program, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    package let nvrtcGetProgramLogSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Int32
    package let nvrtcGetProgramLog: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Int32
    package let nvrtcGetCUBINSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Int32
    package let nvrtcGetCUBIN: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Int32
    package let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<Program>) -> Int32
    package let nvrtcGetErrorString: @convention(c) (Int32) -> UnsafePointer<CChar>?

    package init(_ lib: DynamicLibrary) throws(CUDAError) {
        library = lib.path
        nvrtcVersion = try lib.function("nvrtcVersion")
        nvrtcCreateProgram = try lib.function("nvrtcCreateProgram")
        nvrtcCompileProgram = try lib.function("nvrtcCompileProgram")
        nvrtcGetProgramLogSize = try lib.function("nvrtcGetProgramLogSize")
        nvrtcGetProgramLog = try lib.function("nvrtcGetProgramLog")
        nvrtcGetCUBINSize = try lib.function("nvrtcGetCUBINSize")
        nvrtcGetCUBIN = try lib.function("nvrtcGetCUBIN")
        nvrtcDestroyProgram = try lib.function("nvrtcDestroyProgram")
        nvrtcGetErrorString = try lib.function("nvrtcGetErrorString")
    }

    package var version: String {
        var major: Int32 = 0, minor: Int32 = 0
        _ = nvrtcVersion(&major, &minor)
        return "\(major).\(minor)"
    }

    private func check(_ status: Int32, _ call: String) throws(CUDAError) {
        guard status != 0 else { return }
        throw .nvrtc(call: call, message: nvrtcGetErrorString(status).map { String(cString: $0) } ?? "NVRTC error \(status)")
    }

    /// Compiles `source` to machine code (a cubin) for `sm_<architecture>`.
    package func compile(_ source: String, name: String, architecture: Int, options extra: [String] = []) throws(CUDAError) -> [UInt8] {
        var program: Program = nil
        try check(nvrtcCreateProgram(&program, source, name, 0, nil, nil), "nvrtcCreateProgram (\(name))")
        defer { _ = nvrtcDestroyProgram(&program) }
        let options = ["--gpu-architecture=sm_\(architecture)", "--std=c++17"] + extra
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let status = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer {
            nvrtcCompileProgram(program, Int32($0.count), $0.baseAddress)
        }
        if status != 0 {
            var size = 0
            _ = nvrtcGetProgramLogSize(program, &size)
            var log = [CChar](repeating: 0, count: max(size, 1))
            _ = nvrtcGetProgramLog(program, &log)
            throw .compile(
                kernel: name, architecture: "sm_\(architecture)",
                log: CString.string(log).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        var size = 0
        try check(nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize (\(name))")
        var cubin = [CChar](repeating: 0, count: size)
        try check(nvrtcGetCUBIN(program, &cubin), "nvrtcGetCUBIN (\(name))")
        return cubin.map { UInt8(bitPattern: $0) }
    }
}

/// Compiled kernels kept on disk by (source hash, architecture, NVRTC version), so each
/// machine compiles a kernel once: `$MGPR_KERNEL_CACHE`, else `$XDG_CACHE_HOME/mgpr/kernels`,
/// else `~/.cache/mgpr/kernels`. An unwritable cache only costs the compile next time.
package struct KernelCache: Sendable {
    package let folder: String?

    package init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let explicit = environment["MGPR_KERNEL_CACHE"], !explicit.isEmpty {
            folder = explicit
        } else if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            folder = "\(xdg)/mgpr/kernels"
        } else if let home = environment["HOME"], !home.isEmpty {
            folder = "\(home)/.cache/mgpr/kernels"
        } else {
            folder = nil
        }
    }

    /// The cache file's name for one compile: a 64-bit FNV-1a hash of the source and
    /// options (and their length), the architecture and the compiler's version.
    package static func key(source: String, options: [String], architecture: Int, compiler: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let text = options.joined(separator: " ") + "\n" + source
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(format: "%016llx-%d-sm_%d-nvrtc%@.cubin", hash, text.utf8.count, architecture, compiler)
    }

    package func cubin(
        source: String, name: String, options: [String], architecture: Int, compiler: NVRTC
    ) throws(CUDAError) -> [UInt8] {
        let file = folder.map { "\($0)/\(Self.key(source: source, options: options, architecture: architecture, compiler: compiler.version))" }
        if let file, let data = FileManager.default.contents(atPath: file), !data.isEmpty { return [UInt8](data) }
        let cubin = try compiler.compile(source, name: name, architecture: architecture, options: options)
        if let folder, let file {
            // Written aside and renamed, so a reader never sees half a file.
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let temporary = "\(file).\(ProcessInfo.processInfo.processIdentifier).tmp"
            if FileManager.default.createFile(atPath: temporary, contents: Data(cubin)) {
                if rename(temporary, file) != 0 { try? FileManager.default.removeItem(atPath: temporary) }
            }
        }
        return cubin
    }
}
