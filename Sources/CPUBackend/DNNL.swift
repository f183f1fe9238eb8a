internal import CDNNL
import Engine
import Foundation

/// The oneDNN C API behind one funnel: every call's status is checked and a failure
/// throws an error naming the call. Handles are owned by classes that free them.
enum DNNL {
    static func check(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws(EngineError) {
        guard status == dnnl_success else {
            throw .backend(call: call(), status: String(cString: dnnl_status2str(status)))
        }
    }

    static var version: String {
        let v = dnnl_version()!.pointee
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// The instruction set oneDNN dispatches to, e.g. "avx512_core_bf16". oneDNN caps it
    /// by the environment variable DNNL_MAX_CPU_ISA (e.g. `AVX2`), so everything mgpr
    /// decides from it (bf16 or float32) follows that cap too: a bigger CPU can run as
    /// an AVX2-only one.
    static var isa: dnnl_cpu_isa_t { dnnl_get_effective_cpu_isa() }

    /// ``isaName``, and the cap where DNNL_MAX_CPU_ISA sets one, so a notice never blames
    /// the CPU for what the environment chose.
    static var isaDescription: String {
        guard let cap = ProcessInfo.processInfo.environment["DNNL_MAX_CPU_ISA"], !cap.isEmpty else { return isaName }
        return "\(isaName), capped by DNNL_MAX_CPU_ISA=\(cap)"
    }

    static var isaName: String {
        switch isa {
        case dnnl_cpu_isa_avx512_core_amx_fp16: "avx512_core_amx_fp16"
        case dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_fp16: "avx512_core_fp16"
        case dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: "avx512_core"
        case dnnl_cpu_isa_avx2_vnni_2: "avx2_vnni_2"
        case dnnl_cpu_isa_avx2_vnni: "avx2_vnni"
        case dnnl_cpu_isa_avx2: "avx2"
        default: "isa 0x\(String(isa.rawValue, radix: 16))"
        }
    }

    /// Native bf16 arithmetic (AVX512-BF16, or AMX which includes it); elsewhere oneDNN
    /// would emulate it slowly. oneDNN's ISA values are bit sets, each containing the
    /// ones below it.
    static var hasNativeBF16: Bool {
        isa.rawValue & dnnl_cpu_isa_avx512_core_bf16.rawValue == dnnl_cpu_isa_avx512_core_bf16.rawValue
    }

}

/// A memory descriptor: in oneDNN 3 an object oneDNN allocates, so each is owned here.
final class DNNLMemoryDesc {
    let handle: dnnl_memory_desc_t

    init(_ dims: [Int], _ type: ElementType, _ tag: dnnl_format_tag_t) throws(EngineError) {
        var md: dnnl_memory_desc_t?
        try DNNL.check(
            dnnl_memory_desc_create_with_tag(&md, Int32(dims.count), dims.map(Int64.init), type.dnnl, tag),
            "dnnl_memory_desc_create_with_tag \(dims)")
        handle = md!
    }

    /// A copy of one that oneDNN owns (a primitive descriptor's answer to a query).
    init(copying existing: const_dnnl_memory_desc_t) throws(EngineError) {
        var md: dnnl_memory_desc_t?
        try DNNL.check(dnnl_memory_desc_clone(&md, existing), "dnnl_memory_desc_clone")
        handle = md!
    }

    var byteCount: Int { dnnl_memory_desc_get_size(handle) }

    var type: ElementType {
        var type = dnnl_data_type_undef
        _ = dnnl_memory_desc_query(handle, dnnl_query_data_type, &type)
        switch type {
        case dnnl_bf16: return .bf16
        case dnnl_f16: return .f16
        default: return .f32
        }
    }

    var dims: [Int] {
        var count: Int32 = 0
        var dims: UnsafeRawPointer?
        guard dnnl_memory_desc_query(handle, dnnl_query_ndims_s32, &count) == dnnl_success,
            dnnl_memory_desc_query(handle, dnnl_query_dims, &dims) == dnnl_success, let dims
        else { return [] }
        let values = dims.assumingMemoryBound(to: Int64.self)
        return (0..<Int(count)).map { Int(values[$0]) }
    }

    deinit { dnnl_memory_desc_destroy(handle) }
}

extension ElementType {
    var dnnl: dnnl_data_type_t {
        switch self {
        case .f32: dnnl_f32
        case .bf16: dnnl_bf16
        case .f16: dnnl_f16
        }
    }
}

/// The CPU engine and its in-order stream.
final class DNNLEngine: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    init() throws(EngineError) {
        var engine: dnnl_engine_t?
        try DNNL.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create")
        var stream: dnnl_stream_t?
        try DNNL.check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "dnnl_stream_create")
        self.engine = engine!
        self.stream = stream!
    }

    deinit {
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }
}

/// A oneDNN memory object; `owned` ones allocate their buffer in oneDNN.
final class DNNLMemory {
    let handle: dnnl_memory_t
    let desc: DNNLMemoryDesc

    init(_ desc: DNNLMemoryDesc, _ engine: DNNLEngine, pointer: UnsafeMutableRawPointer?) throws(EngineError) {
        var handle: dnnl_memory_t?
        // DNNL_MEMORY_ALLOCATE is ((void *)(size_t)-1): oneDNN allocates the buffer itself.
        let allocate = UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: -1))
        try DNNL.check(dnnl_memory_create(&handle, desc.handle, engine.engine, pointer ?? allocate), "dnnl_memory_create")
        self.handle = handle!
        self.desc = desc
    }

    var byteCount: Int { desc.byteCount }

    var pointer: UnsafeMutableRawPointer? {
        var p: UnsafeMutableRawPointer?
        dnnl_memory_get_data_handle(handle, &p)
        return p
    }

    func setPointer(_ p: UnsafeMutableRawPointer) throws(EngineError) {
        try DNNL.check(dnnl_memory_set_data_handle(handle, p), "dnnl_memory_set_data_handle")
    }

    deinit { dnnl_memory_destroy(handle) }
}

/// A primitive descriptor and the primitive made from it.
final class DNNLPrimitive {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t

    init(descriptor: dnnl_primitive_desc_t) throws(EngineError) {
        var primitive: dnnl_primitive_t?
        do {
            try DNNL.check(dnnl_primitive_create(&primitive, descriptor), "dnnl_primitive_create")
        } catch {
            dnnl_primitive_desc_destroy(descriptor)
            throw error
        }
        self.descriptor = descriptor
        self.primitive = primitive!
    }

    func query(_ what: dnnl_query_t) throws(EngineError) -> DNNLMemoryDesc {
        try DNNLMemoryDesc(copying: dnnl_primitive_desc_query_md(descriptor, what, 0))
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }
}

/// Primitive attributes: post-ops and a user-managed scratchpad (one buffer for all).
final class DNNLAttributes {
    let handle: dnnl_primitive_attr_t

    init(sum: Bool = false, relu: Bool = false) throws(EngineError) {
        var attr: dnnl_primitive_attr_t?
        try DNNL.check(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create")
        handle = attr!
        try DNNL.check(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        guard sum || relu else { return }
        var ops: dnnl_post_ops_t?
        try DNNL.check(dnnl_post_ops_create(&ops), "dnnl_post_ops_create")
        defer { dnnl_post_ops_destroy(ops) }
        if sum { try DNNL.check(dnnl_post_ops_append_sum(ops, 1, 0, dnnl_data_type_undef), "dnnl_post_ops_append_sum") }
        if relu { try DNNL.check(dnnl_post_ops_append_eltwise(ops, dnnl_eltwise_relu, 0, 0), "append_eltwise") }
        try DNNL.check(dnnl_primitive_attr_set_post_ops(handle, ops), "dnnl_primitive_attr_set_post_ops")
    }

    deinit { dnnl_primitive_attr_destroy(handle) }
}
