/// A restricted unpickler for `torch.save(model.state_dict())` files: it understands the
/// opcodes a state_dict uses and builds only dicts, lists, tuples, scalars and tensors.
/// The only callables it will "call" are the handful torch uses to rebuild a tensor;
/// any other global (os.system, a module class, ...) is refused before anything runs.
/// It never imports or executes anything: globals are just names it compares.
struct Unpickler {
    /// A tensor's storage, named by the persistent id `('storage', type, key, location, numel)`.
    struct StorageRef {
        var type: StoredType
        var key: String
        var count: Int
    }

    struct TensorRef {
        var storage: StorageRef
        var offset: Int
        var shape: [Int]
        var strides: [Int]
    }

    final class ListBox { var items: [Value] = [] }
    final class DictBox { var entries: [(key: Value, value: Value)] = [] }

    enum Value {
        case none, bool(Bool), int(Int), float(Double), string(String), bytes([UInt8])
        case tuple([Value]), list(ListBox), dict(DictBox)
        case global(module: String, name: String)
        case storage(StorageRef)
        case tensor(TensorRef)
        case mark
    }

    let path: String
    private var stack: [Value] = []
    private var memo: [Int: Value] = [:]

    init(path: String) { self.path = path }

    static let storageTypes: [String: StoredType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    /// Runs the pickle program and returns the object it leaves.
    mutating func load(_ bytes: UnsafeRawBufferPointer) throws(WeightsError) -> Value {
        var reader = ByteReader(bytes: bytes, path: path)
        while true {
            let op = try reader.byte()
            switch op {
            case 0x80: _ = try reader.byte()  // PROTO
            case 0x95: _ = try reader.take(8)  // FRAME
            case UInt8(ascii: "}"): stack.append(.dict(DictBox()))
            case UInt8(ascii: "]"): stack.append(.list(ListBox()))
            case UInt8(ascii: ")"): stack.append(.tuple([]))
            case UInt8(ascii: "("): stack.append(.mark)
            case UInt8(ascii: "t"): stack.append(.tuple(try popToMark()))
            case 0x85: stack.append(.tuple([try pop()]))
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case UInt8(ascii: "q"): memo[Int(try reader.byte())] = try top()
            case UInt8(ascii: "r"): memo[try reader.uint32()] = try top()
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case UInt8(ascii: "h"): stack.append(try recall(Int(try reader.byte())))
            case UInt8(ascii: "j"): stack.append(try recall(try reader.uint32()))
            case UInt8(ascii: "X"): stack.append(.string(try reader.string(try reader.uint32())))
            case 0x8c, UInt8(ascii: "U"): stack.append(.string(try reader.string(Int(try reader.byte()))))
            case UInt8(ascii: "T"): stack.append(.string(try reader.string(try reader.uint32())))
            case UInt8(ascii: "C"): stack.append(.bytes(Array(try reader.take(Int(try reader.byte())))))
            case UInt8(ascii: "B"): stack.append(.bytes(Array(try reader.take(try reader.uint32()))))
            case UInt8(ascii: "K"): stack.append(.int(Int(try reader.byte())))
            case UInt8(ascii: "M"): stack.append(.int(Int(try reader.uint16())))
            case UInt8(ascii: "J"): stack.append(.int(Int(Int32(bitPattern: UInt32(try reader.uint32())))))
            case 0x8a: stack.append(.int(try reader.long(Int(try reader.byte()))))
            case UInt8(ascii: "G"): stack.append(.float(try reader.bigEndianDouble()))
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case UInt8(ascii: "N"): stack.append(.none)
            case UInt8(ascii: "c"):
                let module = try reader.line(), name = try reader.line()
                stack.append(try global(module, name))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw malformed("STACK_GLOBAL without module and name")
                }
                stack.append(try global(module, name))
            case UInt8(ascii: "Q"): stack.append(try persistentLoad(try pop()))
            case UInt8(ascii: "R"):
                let arguments = try pop(), callable = try pop()
                stack.append(try reduce(callable, arguments))
            case UInt8(ascii: "b"):
                // BUILD: an OrderedDict's attributes (state_dict's `_metadata`) are dropped;
                // setting state on any other object would run its code, so it is refused.
                _ = try pop()
                guard case .dict = try top() else { throw .forbidden(path: path, what: "object state (BUILD)") }
            case UInt8(ascii: "s"):
                let value = try pop(), key = try pop()
                try dict(try top()).entries.append((key, value))
            case UInt8(ascii: "u"):
                let items = try popToMark()
                guard items.count.isMultiple(of: 2) else { throw malformed("SETITEMS with an odd number of items") }
                let box = try dict(try top())
                for i in stride(from: 0, to: items.count, by: 2) { box.entries.append((items[i], items[i + 1])) }
            case UInt8(ascii: "a"):
                let value = try pop()
                try list(try top()).items.append(value)
            case UInt8(ascii: "e"):
                let items = try popToMark()
                try list(try top()).items.append(contentsOf: items)
            case UInt8(ascii: "."):
                return try pop()
            case 0x81, 0x92, UInt8(ascii: "i"), UInt8(ascii: "o"):
                throw .forbidden(path: path, what: "object construction (pickle opcode 0x\(String(op, radix: 16)))")
            default:
                throw malformed("unsupported pickle opcode 0x\(String(op, radix: 16))")
            }
        }
    }

    private func malformed(_ reason: String) -> WeightsError { .malformed(path: path, reason: "pickle: \(reason)") }

    private mutating func pop() throws(WeightsError) -> Value {
        guard let value = stack.popLast() else { throw malformed("stack underflow") }
        return value
    }

    private func top() throws(WeightsError) -> Value {
        guard let value = stack.last else { throw malformed("stack underflow") }
        return value
    }

    private func recall(_ index: Int) throws(WeightsError) -> Value {
        guard let value = memo[index] else { throw malformed("memo \(index) used before it was set") }
        return value
    }

    private mutating func popToMark() throws(WeightsError) -> [Value] {
        var items: [Value] = []
        while true {
            let value = try pop()
            if case .mark = value { return items.reversed() }
            items.append(value)
        }
    }

    private func dict(_ value: Value) throws(WeightsError) -> DictBox {
        guard case .dict(let box) = value else { throw malformed("SETITEM on something that is not a dict") }
        return box
    }

    private func list(_ value: Value) throws(WeightsError) -> ListBox {
        guard case .list(let box) = value else { throw malformed("APPEND on something that is not a list") }
        return box
    }

    /// Only names a state_dict needs; a torch/torchvision class means a pickled model.
    private func global(_ module: String, _ name: String) throws(WeightsError) -> Value {
        switch (module, name) {
        case ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
            ("torch._utils", "_rebuild_parameter"):
            return .global(module: module, name: name)
        case ("torch", _) where name.hasSuffix("Storage"):  // checked when a storage names it
            return .global(module: module, name: name)
        default:
            if module.hasPrefix("torch") || module == "__main__" {
                throw .notAStateDict(path: path, found: "a pickled \(module).\(name)")
            }
            throw .forbidden(path: path, what: "\(module).\(name)")
        }
    }

    private func persistentLoad(_ id: Value) throws(WeightsError) -> Value {
        guard case .tuple(let parts) = id, parts.count >= 5, case .string("storage") = parts[0],
            case .global(_, let typeName) = parts[1], case .string(let key) = parts[2], case .int(let count) = parts[4]
        else { throw malformed("a persistent id that is not a torch storage") }
        guard let type = Self.storageTypes[typeName] else { throw malformed("storage type \(typeName) is not supported") }
        return .storage(StorageRef(type: type, key: key, count: count))
    }

    private func reduce(_ callable: Value, _ arguments: Value) throws(WeightsError) -> Value {
        guard case .global(let module, let name) = callable, case .tuple(let args) = arguments else {
            throw malformed("REDUCE of something that is not an allowed global")
        }
        switch name {
        case "OrderedDict":
            return .dict(DictBox())
        case "_rebuild_parameter":
            guard let data = args.first else { throw malformed("_rebuild_parameter without data") }
            return data
        case "_rebuild_tensor_v2":
            guard args.count >= 4, case .storage(let storage) = args[0], case .int(let offset) = args[1],
                case .tuple(let size) = args[2], case .tuple(let stride) = args[3]
            else { throw malformed("_rebuild_tensor_v2 with unexpected arguments") }
            let shape = try size.map { v throws(WeightsError) -> Int in
                guard case .int(let i) = v, i >= 0 else { throw malformed("a tensor size that is not an integer") }
                return i
            }
            let strides = try stride.map { v throws(WeightsError) -> Int in
                guard case .int(let i) = v, i >= 0 else { throw malformed("a tensor stride that is not an integer") }
                return i
            }
            guard shape.count == strides.count else { throw malformed("a tensor's size and stride differ in length") }
            return .tensor(TensorRef(storage: storage, offset: offset, shape: shape, strides: strides))
        default:
            throw .forbidden(path: path, what: "\(module).\(name)")
        }
    }
}

/// Bounds-checked reading of the pickle stream; running off the end is an error, not a crash.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var at = 0

    private func truncated() -> WeightsError { .malformed(path: path, reason: "pickle: truncated") }

    mutating func take(_ n: Int) throws(WeightsError) -> UnsafeRawBufferPointer.SubSequence {
        guard n >= 0, at + n <= bytes.count else { throw truncated() }
        defer { at += n }
        return bytes[at..<(at + n)]
    }

    mutating func byte() throws(WeightsError) -> UInt8 { try take(1).first! }

    mutating func uint16() throws(WeightsError) -> Int {
        let b = try take(2)
        return Int(b[b.startIndex]) | Int(b[b.startIndex + 1]) << 8
    }

    mutating func uint32() throws(WeightsError) -> Int {
        try take(4).reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    /// LONG1: little-endian two's complement of n bytes.
    mutating func long(_ n: Int) throws(WeightsError) -> Int {
        guard n <= 8 else { throw .malformed(path: path, reason: "pickle: integer too large") }
        let b = Array(try take(n))
        guard !b.isEmpty else { return 0 }
        var value = b.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if n < 8, b.last! & 0x80 != 0 { value |= ~UInt64(0) << (8 * UInt64(n)) }
        return Int(Int64(bitPattern: value))
    }

    mutating func bigEndianDouble() throws(WeightsError) -> Double {
        Double(bitPattern: try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    mutating func string(_ n: Int) throws(WeightsError) -> String {
        String(decoding: try take(n), as: UTF8.self)
    }

    mutating func line() throws(WeightsError) -> String {
        guard let end = bytes[at...].firstIndex(of: UInt8(ascii: "\n")) else { throw truncated() }
        defer { at = end + 1 }
        return String(decoding: bytes[at..<end], as: UTF8.self)
    }
}
