import Foundation
import Platform

/// What defines a run's work (its input, tile grid, bands, model, weights, precision
/// and thresholds), recorded in the run directory when it starts, so that a resume
/// continues the same work or is refused, naming each key that differs. Batch size,
/// workers and devices are not part of it: they change how, not what.
public struct WorkIdentity: Codable, Equatable, Sendable {
    public var fields: [String: String]

    public init(_ fields: [String: String]) { self.fields = fields }

    /// How the ranks shared the tiles: recorded, but a resume may share otherwise (the
    /// journals say what is done either way).
    public static let shareKey = "share"

    /// "key was A, now B" for every key whose value differs, in key order.
    public func differences(from recorded: WorkIdentity) -> [String] {
        Set(fields.keys).union(recorded.fields.keys).subtracting([Self.shareKey]).sorted().compactMap { key in
            let was = recorded.fields[key] ?? "(not recorded)", now = fields[key] ?? "(not given)"
            return was == now ? nil : "\(key) was \(was), now \(now)"
        }
    }
}

extension RunLayout {
    public var workFile: String { (root as NSString).appendingPathComponent("work.json") }

    /// The work recorded when the run started; nil when none was. A record that cannot
    /// be read is an error: taking it for "none" would let a resume mix two works.
    public func readWork() throws(ClusterError) -> WorkIdentity? {
        let data: Data
        do {
            guard let contents = try RunFile.contents(workFile) else { return nil }
            data = contents
        } catch { throw .runFile(error) }
        do { return try JSONDecoder().decode(WorkIdentity.self, from: data) } catch {
            throw .damagedWork(path: workFile, reason: "\(data.count) bytes that are not a work record mgpr wrote")
        }
    }

    public func write(_ work: WorkIdentity) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try RunFile.replace(workFile, with: try encoder.encode(work))
        } catch let failure as RunFile.Failure {
            throw ClusterError.runFile(failure)
        } catch {
            throw ClusterError.cannotWrite(path: workFile)
        }
    }
}
