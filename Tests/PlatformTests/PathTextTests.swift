import Foundation
import Platform
import Testing

@Suite("Path text")
struct PathTextTests {
    @Test("the folder of a path, including the one-character paths Foundation traps on")
    func parent() {
        let cases: [(String, String)] = [
            ("a/b", "a"), ("/a", "/"), ("a", ""), (".", ""), ("a/", ""), ("/", "/"), ("./a", "."), ("ab", ""),
            ("/x/y/z.gpkg", "/x/y"), ("x//y", "x"), ("//a", "/"), ("outputs/2026-12-03/11-24-12/", "outputs/2026-12-03"),
        ]
        for (path, folder) in cases { #expect(PathText.parent(of: path) == folder, "\(path)") }
    }
}
