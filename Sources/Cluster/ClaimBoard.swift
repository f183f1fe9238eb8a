import Foundation
import Synchronization

/// The folder through which the ranks of one launch claim chunks (`<run_dir>/claims/<launch>`),
/// using only operations that are atomic on the file systems clusters share, NFSv3
/// included: `link` and `mkdir` either create a name or fail with EEXIST, on the server.
///
/// - `rank-<r>`: rank r's lease file, holding "r". The rank touches it (its mtime) every
///   sixth of the lease while it runs.
/// - `c<k>`: chunk k claimed, a hard link to its claimer's lease file. One `link` claims,
///   and because every claim of a rank is the same file, its mtime is the claimer's
///   lease: no claim needs renewing on its own.
/// - `c<k>.<g>`: chunk k taken over (generation g) from a claimer that stopped renewing.
/// - `d<k>/`: chunk k done, every tile of it journaled (`mkdir`).
///
/// Every operation on the folder is counted (``operations``): a listing as one per 100
/// names, as an NFS READDIR returns them; the rest one each.
public final class ClaimBoard: @unchecked Sendable {
    public let directory: String
    public let rank: Int
    /// Seconds without a renewal after which a rank's claims are taken over.
    public let lease: Double
    private let leaseFile: String
    private let counter = Atomic<Int>(0)
    /// When the last renewal that succeeded started (monotonic seconds).
    private let renewed = Mutex<Double>(0)
    private let stopRenewing = DispatchSemaphore(value: 0)
    private var renewer: Thread?
    /// Each watched lease file's mtime and since when (this process's clock) it has not changed:
    /// ranks' clocks may differ, so only this process's own time decides that a lease expired.
    private let watched = Mutex<[String: (mtime: timespec, since: Double)]>([:])

    /// Joins the board: the folder made if need be, and this rank's lease file written afresh.
    /// A lease file of this rank already there is an earlier launch's under the same name,
    /// whose marks would be mistaken for this launch's.
    public init(directory: String, rank: Int, lease: Double) throws(ClusterError) {
        (self.directory, self.rank, self.lease) = (directory, rank, lease)
        leaseFile = (directory as NSString).appendingPathComponent("rank-\(rank)")
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .cannotWrite(path: directory)
        }
        count(1)
        let fd = Foundation.open(leaseFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        count(2)
        guard fd >= 0 else {
            if errno == EEXIST { throw .earlierLaunch(board: directory, leaseFile: leaseFile) }
            throw .claimFailed(path: leaseFile, reason: String(cString: strerror(errno)))
        }
        let text = "\(rank)\n"
        let written = text.withCString { Foundation.write(fd, $0, strlen($0)) }
        close(fd)
        guard written == text.utf8.count else { throw .claimFailed(path: leaseFile, reason: "could not write it") }
        renewed.withLock { $0 = Self.clock() }
    }

    deinit { stop() }

    /// File-system operations this rank made on the board so far.
    public var operations: Int { counter.load(ordering: .relaxed) }

    private func count(_ n: Int) { counter.add(n, ordering: .relaxed) }

    static func clock() -> Double { ProcessInfo.processInfo.systemUptime }

    // MARK: The lease

    /// Renews the lease every sixth of it on a thread of its own, until ``stop()``.
    public func startRenewing() {
        let interval = lease / 6
        let thread = Thread { [self] in
            while stopRenewing.wait(timeout: .now() + interval) == .timedOut { renew() }
        }
        thread.name = "mgpr-lease"
        renewer = thread
        thread.start()
    }

    public func stop() {
        guard renewer != nil else { return }
        renewer = nil
        stopRenewing.signal()
    }

    /// Sets the lease file's mtime to now (the server's clock, on NFS).
    @discardableResult
    func renew() -> Bool {
        let start = Self.clock()
        count(1)
        guard utimensat(AT_FDCWD, leaseFile, nil, 0) == 0 else { return false }
        renewed.withLock { $0 = max($0, start) }
        return true
    }

    /// Whether this rank may still count on holding its claims: its last renewal began
    /// less than half a lease ago. Other ranks take a claim over only after watching its
    /// lease unchanged for a whole lease, so a rank that journals only while this holds
    /// never journals a tile another rank has taken over.
    public var leaseHeld: Bool { Self.clock() - renewed.withLock { $0 } < lease / 2 }

    /// Seconds since this rank's last renewal.
    public var secondsSinceRenewal: Double { Self.clock() - renewed.withLock { $0 } }

    // MARK: Claims

    public enum Mark: Hashable, Sendable {
        case claim(chunk: Int, generation: Int)
        case done(chunk: Int)
        case lease(rank: Int)
    }

    static func name(_ mark: Mark) -> String {
        switch mark {
        case .claim(let chunk, 0): "c\(chunk)"
        case .claim(let chunk, let generation): "c\(chunk).\(generation)"
        case .done(let chunk): "d\(chunk)"
        case .lease(let rank): "rank-\(rank)"
        }
    }

    static func mark(_ name: Substring) -> Mark? {
        if name.hasPrefix("rank-") { return Int(name.dropFirst(5)).map { .lease(rank: $0) } }
        if name.hasPrefix("d") { return Int(name.dropFirst()).map { .done(chunk: $0) } }
        guard name.hasPrefix("c") else { return nil }
        let parts = name.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard let chunk = Int(parts[0]), parts.count <= 2 else { return nil }
        guard parts.count == 2 else { return .claim(chunk: chunk, generation: 0) }
        return Int(parts[1]).flatMap { $0 > 0 ? .claim(chunk: chunk, generation: $0) : nil }
    }

    private func path(_ mark: Mark) -> String { (directory as NSString).appendingPathComponent(Self.name(mark)) }

    /// Claims chunk k (generation 0) or takes it over (a later generation): true when this
    /// rank now holds it, false when another rank's link came first.
    public func claim(_ chunk: Int, generation: Int = 0) throws(ClusterError) -> Bool {
        let target = path(.claim(chunk: chunk, generation: generation))
        count(1)
        if link(leaseFile, target) == 0 { return true }
        if errno == EEXIST { return false }
        throw .claimFailed(path: target, reason: String(cString: strerror(errno)))
    }

    /// Whether a mark is on the board (one lstat; on NFS possibly a few seconds behind,
    /// which only costs a claim that fails).
    public func exists(_ mark: Mark) throws(ClusterError) -> Bool {
        var status = stat()
        count(1)
        if lstat(path(mark), &status) == 0 { return true }
        if errno == ENOENT { return false }
        throw .claimFailed(path: path(mark), reason: String(cString: strerror(errno)))
    }

    /// Marks chunk k done (a second mark, from a rank that redid it, is no error).
    public func markDone(_ chunk: Int) throws(ClusterError) {
        let target = path(.done(chunk: chunk))
        count(1)
        guard mkdir(target, 0o755) == 0 || errno == EEXIST else {
            throw .claimFailed(path: target, reason: String(cString: strerror(errno)))
        }
    }

    /// What the board holds now. On NFS a listing may lag the server by a few seconds;
    /// nothing relies on it being current: a claim it misses fails on EEXIST, and a done
    /// mark it misses costs one look at the journals.
    public struct Listing: Sendable {
        /// Each claimed chunk's highest generation.
        public var claims: [Int: Int] = [:]
        public var done: Set<Int> = []
        public var leases: Set<Int> = []
    }

    public func listing() throws(ClusterError) -> Listing {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw .claimFailed(path: directory, reason: "cannot list it: \(error.localizedDescription)")
        }
        count(1 + names.count / 100)
        var listing = Listing()
        for name in names {
            switch Self.mark(Substring(name)) {
            case .claim(let chunk, let generation)?: listing.claims[chunk] = max(listing.claims[chunk] ?? 0, generation)
            case .done(let chunk)?: listing.done.insert(chunk)
            case .lease(let rank)?: listing.leases.insert(rank)
            case nil: break
            }
        }
        return listing
    }

    /// The rank that holds a claim, read from the file it links to.
    public func holder(of chunk: Int, generation: Int) throws(ClusterError) -> Int? {
        try read(path(.claim(chunk: chunk, generation: generation)))?.rank
    }

    /// Whether the lease behind a claim (or a rank's lease file) has been watched unchanged
    /// for a whole lease by this process. The file is opened, not just stat'ed: an NFS
    /// client then asks the server for its current times (close-to-open), where a stat may
    /// answer from a cache up to a minute old.
    public func expired(_ mark: Mark) throws(ClusterError) -> Bool {
        let file = path(mark)
        guard let found = try read(file) else { return false }
        let now = Self.clock()
        // By rank: all of a rank's claims are its one lease file.
        let key = "rank-\(found.rank)"
        return watched.withLock { watched in
            if let seen = watched[key], seen.mtime.tv_sec == found.mtime.tv_sec, seen.mtime.tv_nsec == found.mtime.tv_nsec {
                return now - seen.since >= lease
            }
            watched[key] = (found.mtime, now)
            return false
        }
    }

    /// Whether rank r is on this board with a lease it renews (for the gather: a rank
    /// that never joined, or stopped renewing, holds nothing worth waiting for).
    public func renewing(rank: Int) throws(ClusterError) -> Bool {
        guard FileManager.default.fileExists(atPath: path(.lease(rank: rank))) else { return false }
        count(1)
        return try !expired(.lease(rank: rank))
    }

    private func read(_ file: String) throws(ClusterError) -> (rank: Int, mtime: timespec)? {
        count(3)  // open, fstat, read
        let fd = Foundation.open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .claimFailed(path: file, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var status = stat()
        var buffer = [UInt8](repeating: 0, count: 32)
        guard fstat(fd, &status) == 0 else { throw .claimFailed(path: file, reason: String(cString: strerror(errno))) }
        let n = Foundation.read(fd, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let rank = Int(text) else { throw .claimFailed(path: file, reason: "it holds \"\(text)\", not a rank number mgpr wrote") }
        return (rank, status.st_mtim)
    }
}
