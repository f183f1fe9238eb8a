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

    @Test("a relative raster path is made absolute from the working directory; GDAL's paths and URLs are left alone")
    func absolute() {
        let cases: [(String, String)] = [
            ("ortho.tif", "/work/run/ortho.tif"), ("./data/ortho.tif", "/work/run/data/ortho.tif"), ("/data/ortho.tif", "/data/ortho.tif"),
            ("/vsicurl/https://example.org/a.tif", "/vsicurl/https://example.org/a.tif"), ("https://example.org/a.tif", "https://example.org/a.tif"),
            (".", "/work/run"), ("../ortho.tif", "/work/run/../ortho.tif"),
        ]
        for (path, absolute) in cases { #expect(PathText.absolute(path, from: "/work/run") == absolute, "\(path)") }
        #expect(PathText.absolute("a.tif", from: "/") == "/a.tif")
    }
}
