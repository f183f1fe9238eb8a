import Foundation
import Platform
import Testing

@Suite("Errors and run files")
struct SystemErrorTests {
    enum Described: Error, CustomStringConvertible {
        case damaged
        var description: String { "rank-0/journal.txt is damaged\nsecond line" }
    }
    enum Plain: Error { case sixth }

    @Test("any error is one plain line: mgpr's as it describes itself, Foundation's as its POSIX reason, never Swift's bridged text")
    func oneLine() throws {
        #expect(SystemError.reason(Described.damaged) == "rank-0/journal.txt is damaged")
        #expect(!SystemError.reason(Plain.sixth).contains("error 0") && !SystemError.reason(Plain.sixth).contains("operation"))
        do {
            _ = try String(contentsOfFile: "/nonexistent/mgpr", encoding: .utf8)
            Issue.record("read a file that does not exist")
        } catch {
            #expect(SystemError.reason(error) == "No such file or directory")
        }
    }

    @Test("run files: replaced whole, read back, never through a link, never when not a regular file")
    func runFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgpr-runfile-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + "/status.json", link = folder + "/link.json", pipe = folder + "/fifo"
        #expect(try RunFile.contents(file) == nil)
        try RunFile.replace(file, with: Data("one".utf8))
        try RunFile.replace(file, with: Data("two".utf8))
        #expect(try RunFile.contents(file) == Data("two".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["status.json"], "no temporary file is left")
        #expect(symlink(file, link) == 0 && mkfifo(pipe, 0o644) == 0)
        #expect(throws: RunFile.Failure.link(path: link)) { try RunFile.contents(link) }
        #expect(throws: RunFile.Failure.link(path: link)) { try RunFile.open(link, O_WRONLY | O_APPEND) }
        #expect(throws: RunFile.Failure.notAFile(path: pipe, kind: "a FIFO (named pipe)")) { try RunFile.contents(pipe) }
        #expect(throws: RunFile.Failure.notAFile(path: folder, kind: "a folder")) { try RunFile.contents(folder) }
        #expect(try RunFile.contents(file) == Data("two".utf8), "the link's target is untouched")
    }
}
