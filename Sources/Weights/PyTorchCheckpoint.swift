import Foundation

/// Reads a `.pth`/`.pt` file written by `torch.save(model.state_dict())`: a zip holding
/// `<name>/data.pkl` (the pickled dict, read by the restricted ``Unpickler``) and one
/// raw little-endian storage per tensor under `<name>/data/<key>`.
enum PyTorchCheckpoint {
    static func load(_ path: String) throws(WeightsError) -> [String: HostTensor] {
        try withMappedFile(path) { (bytes: UnsafeRawBufferPointer) throws(WeightsError) in try load(bytes, path: path) }
    }

    static func load(_ bytes: UnsafeRawBufferPointer, path: String) throws(WeightsError) -> [String: HostTensor] {
        let zip = try ZipArchive(bytes, path: path)
        guard let pickle = zip.entries.values.first(where: { $0.name.hasSuffix("data.pkl") }) else {
            throw .malformed(path: path, reason: "no data.pkl in the archive (not written by torch.save?)")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        if let order = zip.entries[prefix + "byteorder"],
            String(decoding: UnsafeRawBufferPointer(rebasing: bytes[order.range]), as: UTF8.self) != "little"
        {
            throw .malformed(path: path, reason: "big-endian storages are not supported")
        }
        var unpickler = Unpickler(path: path)
        let root = try unpickler.load(UnsafeRawBufferPointer(rebasing: bytes[pickle.range]))
        var tensors: [String: HostTensor] = [:]
        for (name, tensor) in try stateDict(root, path: path) {
            guard let entry = zip.entries[prefix + "data/" + tensor.storage.key] else {
                throw .malformed(path: path, reason: "storage \(tensor.storage.key) of '\(name)' is missing (truncated file?)")
            }
            tensors[name] = try materialize(tensor, UnsafeRawBufferPointer(rebasing: bytes[entry.range]), name, path)
        }
        return tensors
    }

    /// The name -> tensor pairs; a Lightning checkpoint's `state_dict` entry is used, and
    /// the `model` entry of torchvision's reference scripts' checkpoints
    /// (`{'model': state_dict, 'optimizer': ..., 'epoch': ...}`).
    private static func stateDict(_ root: Unpickler.Value, path: String) throws(WeightsError)
        -> [(String, Unpickler.TensorRef)]
    {
        guard case .dict(let box) = root else {
            throw .notAStateDict(path: path, found: "a pickled value that is not a dict")
        }
        let holdsTensors = box.entries.contains { if case .tensor = $0.value { true } else { false } }
        for name in ["state_dict", "model"] where !holdsTensors {
            for (key, value) in box.entries {
                if case .string(name) = key, case .dict = value { return try stateDict(value, path: path) }
            }
        }
        return try box.entries.map { entry throws(WeightsError) -> (String, Unpickler.TensorRef) in
            guard case .string(let name) = entry.key else { throw .notAStateDict(path: path, found: "a dict with non-string keys") }
            guard case .tensor(let tensor) = entry.value else {
                throw .notAStateDict(path: path, found: "'\(name)', which is not a tensor")
            }
            return (name, tensor)
        }
    }

    /// The tensor's values, following its offset and strides into the storage. Every
    /// number comes from the file, so each is checked against the storage it points
    /// into, with overflow-safe arithmetic, before a byte is read.
    private static func materialize(
        _ t: Unpickler.TensorRef, _ storage: UnsafeRawBufferPointer, _ name: String, _ path: String
    ) throws(WeightsError) -> HostTensor {
        func refuse(_ reason: String) -> WeightsError { .malformed(path: path, reason: "'\(name)' \(reason)") }
        let type = t.storage.type, size = type.byteCount
        guard let storageBytes = CheckedSize.product(t.storage.count, size) else {
            throw refuse("has an impossible storage size of \(t.storage.count) elements")
        }
        guard storage.count >= storageBytes else {
            throw refuse("has a storage shorter than its \(t.storage.count) elements (truncated file?)")
        }
        guard t.offset >= 0 else { throw refuse("has a negative storage offset \(t.offset)") }
        guard let count = CheckedSize.elements(t.shape) else { throw refuse("has an impossible shape \(t.shape)") }
        guard count <= t.storage.count else {
            throw refuse("has \(count) elements but its storage holds \(t.storage.count) (a broadcast view is not a weight)")
        }
        var lastIndex = t.offset
        for (length, stride) in zip(t.shape, t.strides) where length > 0 {
            guard let step = CheckedSize.product(length - 1, stride), let next = CheckedSize.sum(lastIndex, step) else {
                throw refuse("has an impossible stride \(stride) for shape \(t.shape)")
            }
            lastIndex = next
        }
        guard count == 0 || lastIndex < t.storage.count else {
            throw refuse("reaches past its storage (offset \(t.offset), shape \(t.shape), strides \(t.strides))")
        }
        if count == 0 { return HostTensor(shape: t.shape, values: []) }
        let contiguous = zip(t.shape, t.strides).reversed().reduce((true, 1)) { state, dim in
            (state.0 && (dim.0 <= 1 || dim.1 == state.1), state.1 * dim.0)
        }.0
        if contiguous {
            let raw = UnsafeRawBufferPointer(rebasing: storage[(t.offset * size)..<((t.offset + count) * size)])
            return HostTensor(shape: t.shape, values: type.floats(raw, count: count))
        }
        // A strided view (rare in a state_dict): gather element by element.
        var values = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: t.shape.count)
        for i in 0..<count {
            let element = t.offset + zip(index, t.strides).reduce(0) { $0 + $1.0 * $1.1 }
            values[i] = type.floats(UnsafeRawBufferPointer(rebasing: storage[(element * size)..<((element + 1) * size)]), count: 1)[0]
            for d in stride(from: index.count - 1, through: 0, by: -1) {
                index[d] += 1
                if index[d] < t.shape[d] { break }
                index[d] = 0
            }
        }
        return HostTensor(shape: t.shape, values: values)
    }
}
