import Foundation
import Testing
import TestSupport
import Tiling

/// A finished two-rank run's directory damaged at random, one file at a time, with a
/// fixed seed: cut at any byte, a line of garbage put in, one byte changed, deleted, or
/// replaced by a link to its copy. `mgpr merge`, then a resume, must each either give the
/// undamaged run's results or fail naming the file (exit 1; exit 2 for a work record
/// changed into another valid one, naming what differs). Never exit 0 with other results.
@Suite("Run directories damaged at random", .serialized)
struct RunDirectoryFuzzTests {
    let mgpr = TestSupport.product("mgpr")

    static let files = [
        "rank-0/journal.txt", "rank-1/journal.txt", "rank-0/results.csv", "rank-1/results.csv",
        "rank-0/status.json", "rank-1/status.json", "rank-0/metrics.csv", "rank-1/metrics.csv", "work.json",
    ]

    enum Damage: CaseIterable { case cut, garbage, changedByte, deleted, linked }

    struct Trial: CustomStringConvertible {
        var file: String
        var damage: Damage
        var description: String { "\(damage) \(file)" }
    }

    /// Damages `trial.file` under `run`, choosing where with `random`.
    static func apply(_ trial: Trial, under run: URL, saved: URL, random: inout SplitMix) throws {
        let url = run.appendingPathComponent(trial.file)
        var bytes = [UInt8](try Data(contentsOf: url))
        func pick(_ n: Int) -> Int { n <= 0 ? 0 : Int(random.next() % UInt64(n)) }
        let printable = Array("0123456789abcdef,. -:{}\"xyz".utf8)
        switch trial.damage {
        case .cut:
            bytes = Array(bytes.prefix(pick(bytes.count)))
        case .garbage:
            let lineStarts = [0] + bytes.indices.filter { bytes[$0] == UInt8(ascii: "\n") }.map { $0 + 1 }
            let line = (0..<(1 + pick(40))).map { _ in printable[pick(printable.count)] } + [UInt8(ascii: "\n")]
            bytes.insert(contentsOf: line, at: lineStarts[pick(lineStarts.count)])
        case .changedByte:
            let at = pick(bytes.count)
            var replacement = printable[pick(printable.count)]
            while replacement == bytes[at] { replacement = printable[pick(printable.count)] }
            bytes[at] = replacement
        case .deleted:
            try FileManager.default.removeItem(at: url)
            return
        case .linked:
            let copy = saved.appendingPathComponent(trial.file.replacingOccurrences(of: "/", with: "-"))
            try? FileManager.default.removeItem(at: copy)
            try FileManager.default.moveItem(at: url, to: copy)
            try FileManager.default.createSymbolicLink(at: url, withDestinationURL: copy)
            return
        }
        try Data(bytes).write(to: url)
    }

    /// Whether a command's outcome is allowed after `trial`: the undamaged results, or a
    /// refusal naming the damaged file (lost journal lines and statuses may instead be
    /// named as tiles not done or ranks that did not finish, which resume=true mends).
    static func check(_ result: TestSupport.ProcessResult, output: URL, expected: String, trial: Trial, run: URL, step: String) {
        let errors = result.stderr.split(separator: "\n").filter { $0.contains("error:") }
        switch result.status {
        case 0:
            #expect((try? String(contentsOf: output, encoding: .utf8)) == expected, "\(trial), \(step): exit 0 with other results")
        case 1:
            let named = errors.contains { $0.contains(run.appendingPathComponent(trial.file).path) }
            let mendable = (trial.file.hasSuffix("journal.txt") || trial.file.hasSuffix("status.json"))
                && errors.contains { $0.contains("missing_tiles.txt") }
            #expect(errors.count == 1 && (named || mendable), "\(trial), \(step): \(result.stderr)")
        case 2:
            #expect(trial.file == "work.json" && errors.count == 1 && errors[0].contains("holds other work"), "\(trial), \(step): \(result.stderr)")
        default:
            Issue.record("\(trial), \(step): exit \(result.status): \(result.stderr)")
        }
    }

    @Test("merge and resume give the undamaged results or name the file, over 36 seeded damages")
    func seededDamage() throws {
        let directory = try TestSupport.temporaryDirectory()
        let base = directory.appendingPathComponent("base"), run = directory.appendingPathComponent("run")
        let saved = directory.appendingPathComponent("saved")
        try FileManager.default.createDirectory(at: saved, withIntermediateDirectories: true)
        // Weights from a file: a process starts in half the time it takes to make seeded ones.
        let weights = ResNet50CommandTests.fixtures.appendingPathComponent("resnet50.safetensors").path
        try #require(FileManager.default.fileExists(atPath: weights), "\(weights) is missing: run scripts/fixtures.sh")
        let arguments = RunIntegrityTests.classifier(run, count: 12) + ["weights=\(weights)"]
        let done = try RunIntegrityTests().ranks(arguments, world: 2, in: directory)
        #expect(done.map(\.status) == [0, 0], "\(done.map(\.log))")
        let output = run.appendingPathComponent("classes.csv")
        let expected = try String(contentsOf: output, encoding: .utf8)
        try FileManager.default.removeItem(at: output)
        try FileManager.default.moveItem(at: run, to: base)

        // Some of every (file, damage) pair in order, then pairs at random: 36 in all.
        var random = SplitMix(2026)
        var trials = Self.files.flatMap { file in Damage.allCases.map { Trial(file: file, damage: $0) } }
        trials = trials.filter { _ in random.next() % 4 == 0 } + (0..<36).map { _ in
            Trial(file: Self.files[Int(random.next() % UInt64(Self.files.count))], damage: Damage.allCases[Int(random.next() % 5)])
        }
        try #require(trials.count >= 36)
        var outcomes: [String: Int] = [:]
        for trial in trials.prefix(36) {
            try? FileManager.default.removeItem(at: run)
            try FileManager.default.copyItem(at: base, to: run)
            try Self.apply(trial, under: run, saved: saved, random: &random)
            let mergeStart = Date()
            let merged = try TestSupport.run(
                mgpr, ["merge", "run_dir=\(run.path)", "output=\(output.path)", "gather_timeout=1"], in: directory)
            let mergeSeconds = Date().timeIntervalSince(mergeStart)
            Self.check(merged, output: output, expected: expected, trial: trial, run: run, step: "merge")
            try? FileManager.default.removeItem(at: output)
            // A resume by one process, over both ranks' work.
            let resumeStart = Date()
            let resumed = try TestSupport.run(mgpr, arguments + ["resume=true"], in: directory)
            let resumeSeconds = Date().timeIntervalSince(resumeStart)
            Self.check(resumed, output: output, expected: expected, trial: trial, run: run, step: "resume")
            outcomes["merge \(merged.status), resume \(resumed.status)", default: 0] += 1
            func said(_ result: TestSupport.ProcessResult) -> String {
                result.stderr.split(separator: "\n").first { $0.contains("error:") }.map { " (\($0.prefix(160)))" } ?? ""
            }
            print(String(format: "%@: merge exit %d in %.1f s%@; resume exit %d in %.1f s%@", trial.description, merged.status,
                         mergeSeconds, said(merged), resumed.status, resumeSeconds, said(resumed)))
        }
        // Both outcomes happen: the damage is real, and much of it is mended.
        #expect(outcomes.keys.contains { $0.hasPrefix("merge 1") } && outcomes.keys.contains { $0.hasSuffix("resume 0") }, "\(outcomes)")
        print("Run directory damage, 36 trials: \(outcomes.sorted { $0.key < $1.key })")
    }
}
