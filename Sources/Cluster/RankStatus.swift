import Foundation
import Platform
import Results

/// What a rank keeps in `<run_dir>/rank-<r>/status.json`: from its first tile that it is
/// running, then when it stops its share, how it ended, and its own summary. Rank 0 (or
/// `mgpr merge`) gathers these.
public struct RankStatus: Codable, Sendable {
    public enum State: String, Codable, Sendable {
        case running, finished, interrupted, failed

        /// Whether the rank has stopped (a running status may also be a killed rank's).
        public var isFinal: Bool { self != .running }
    }

    public var rank: Int
    public var worldSize: Int
    /// Which attempt of the job wrote it (the launcher's restart count).
    public var attempt: Int
    public var host: String
    public var tileCount: Int
    /// This rank's block under share=static (empty under share=claim).
    public var shareStart: Int
    public var shareEnd: Int
    /// "claim" when the ranks claimed chunks as they went; absent when they shared statically.
    public var shareMode: String?
    public var state: State
    /// The merged results file the run was asked for, if any.
    public var output: String?
    public var summary: RunSummary?
    /// What the merge needs to place results on the ground (absent for dummy data).
    public var raster: RasterContext?
    /// The names of the model's classes by label index, when its weights name them.
    public var labels: [String]?
    /// What ran, for the report: the model, backend and precision actually used, the
    /// machine, the libraries.
    public var environment: [String: String]?

    enum CodingKeys: String, CodingKey {
        case rank, host, state, output, summary, attempt, raster, labels, environment
        case worldSize = "world_size"
        case tileCount = "tile_count"
        case shareStart = "share_start"
        case shareEnd = "share_end"
        case shareMode = "share"
    }

    public init(
        rank: Int, worldSize: Int, attempt: Int, tileCount: Int, share: Range<Int>, state: State, output: String?,
        summary: RunSummary?, raster: RasterContext?, labels: [String]? = nil, environment: [String: String]? = nil,
        shareMode: String? = nil
    ) {
        self.shareMode = shareMode
        (self.raster, self.labels, self.environment) = (raster, labels, environment)
        (self.rank, self.worldSize, self.attempt, self.tileCount, self.state, self.output, self.summary) =
            (rank, worldSize, attempt, tileCount, state, output, summary)
        (shareStart, shareEnd) = (share.lowerBound, share.upperBound)
        host = ProcessInfo.processInfo.hostName
    }
}

/// The files of one run directory, shared by all ranks.
public struct RunLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func rankDirectory(_ rank: Int) -> String { (root as NSString).appendingPathComponent("rank-\(rank)") }
    /// Where the ranks of one launch claim chunks under share=claim.
    public func claimsDirectory(launch: String) -> String {
        ((root as NSString).appendingPathComponent("claims") as NSString).appendingPathComponent(launch)
    }
    public func journal(_ rank: Int) -> String { (rankDirectory(rank) as NSString).appendingPathComponent("journal.txt") }
    public func results(_ rank: Int) -> String { (rankDirectory(rank) as NSString).appendingPathComponent("results.csv") }
    public func status(_ rank: Int) -> String { (rankDirectory(rank) as NSString).appendingPathComponent("status.json") }
    public func metrics(_ rank: Int) -> String { (rankDirectory(rank) as NSString).appendingPathComponent("metrics.csv") }
    public var missingTiles: String { (root as NSString).appendingPathComponent("missing_tiles.txt") }

    public func prepare(rank: Int) throws {
        do { try FileManager.default.createDirectory(atPath: rankDirectory(rank), withIntermediateDirectories: true) } catch {
            throw ClusterError.cannotWrite(path: rankDirectory(rank))
        }
    }

    /// Starts a rank afresh: its journal, results part and status go.
    public func reset(rank: Int) {
        for path in [journal(rank), results(rank), status(rank)] { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Removes a status left by an earlier attempt, so nobody mistakes it for this one's.
    public func clearStatus(rank: Int) { try? FileManager.default.removeItem(atPath: status(rank)) }

    public func write(_ status: RankStatus) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            // Renamed into place (atomic on one filesystem), so a reader never sees half a file.
            try RunFile.replace(self.status(status.rank), with: try encoder.encode(status))
        } catch let failure as RunFile.Failure {
            throw ClusterError.runFile(failure)
        } catch {
            throw ClusterError.cannotWrite(path: self.status(status.rank))
        }
    }

    public func readStatus(_ rank: Int) -> RankStatus? { try? checkedStatus(rank) }

    /// A rank's status: nil while it has none, an error naming the file when one is there
    /// but damaged. Statuses are renamed into place whole, so a damaged one will not heal
    /// by waiting for it.
    public func checkedStatus(_ rank: Int) throws(ClusterError) -> RankStatus? {
        let path = status(rank)
        let data: Data
        do {
            guard let contents = try RunFile.contents(path) else { return nil }
            data = contents
        } catch { throw .runFile(error) }
        do {
            return try JSONDecoder().decode(RankStatus.self, from: data)
        } catch {
            throw .damagedStatus(path: path, bytes: data.count)
        }
    }

    /// How many tiles the journals list, for telling a started run from an empty folder
    /// (lines that are not a journal's are not counted).
    public var journaledTileCount: Int {
        ranksPresent.reduce(0) { count, rank in
            let text = (try? RunFile.contents(journal(rank))).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
            return count + text.split(separator: "\n").filter { Int($0.prefix { $0 != " " }) != nil }.count
        }
    }

    /// The rank folders that exist, by number.
    public var ranksPresent: [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.compactMap { $0.hasPrefix("rank-") ? Int($0.dropFirst(5)) : nil }.sorted()
    }
}
