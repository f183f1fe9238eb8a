import Foundation

/// What defines a run's work (its input, tile grid, bands, model, weights, precision
/// and thresholds), recorded in the run directory when it starts, so that a resume
/// continues the same work or is refused, naming each key that differs. Batch size,
/// workers and devices are not part of it: they change how, not what.
public struct WorkIdentity: Codable, Equatable, Sendable {
    public var fields: [String: String]

    public init(_ fields: [String: String]) { self.fields = fields }

    /// "key was A, now B" for every key whose value differs, in key order.
    public func differences(from recorded: WorkIdentity) -> [String] {
        Set(fields.keys).union(recorded.fields.keys).sorted().compactMap { key in
            let was = recorded.fields[key] ?? "(not recorded)", now = fields[key] ?? "(not given)"
            return was == now ? nil : "\(key) was \(was), now \(now)"
        }
    }
}

extension RunLayout {
    public var workFile: String { (root as NSString).appendingPathComponent("work.json") }

    public func readWork() -> WorkIdentity? {
        guard let data = FileManager.default.contents(atPath: workFile) else { return nil }
        return try? JSONDecoder().decode(WorkIdentity.self, from: data)
    }

    public func write(_ work: WorkIdentity) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = workFile + ".tmp.\(getpid())"
        do {
            try encoder.encode(work).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, workFile) == 0 else { throw ClusterError.cannotWrite(path: workFile) }
        } catch {
            throw ClusterError.cannotWrite(path: workFile)
        }
    }
}
