import Foundation
import Testing
import TestSupport
@testable import Tiling

/// `tiling=stride` against DeepForest's own code: `preprocess.compute_windows` from the
/// pinned deepforest 2.1.0 wheel, calling the `slidingwindow` 0.0.14 module it uses,
/// run by Python beside the Swift grid on many rasters, patch sizes and overlaps.
@Suite("DeepForest's windows")
struct DeepForestWindowsTests {
    static let code = TestSupport.packageRoot.appendingPathComponent(".fixtures/deepforest-code")
    static let present = FileManager.default.fileExists(atPath: code.appendingPathComponent("SlidingWindow.py").path)

    /// DeepForest's compute_windows, lifted from its module by name and run with the
    /// slidingwindow module as it calls it (the rest of preprocess.py imports a GIS
    /// stack that windows do not use). The image is a zero-stride array: only its
    /// shape is read. Prints per case the windows as [x, y, w, h].
    static let script = """
        import ast, importlib.util, json, sys
        import numpy as np
        code = sys.argv[1]
        spec = importlib.util.spec_from_file_location("slidingwindow", f"{code}/SlidingWindow.py")
        slidingwindow = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(slidingwindow)
        tree = ast.parse(open(f"{code}/preprocess.py").read())
        function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "compute_windows")
        namespace = {"slidingwindow": slidingwindow}
        exec(compile(ast.Module(body=[function], type_ignores=[]), "preprocess.py", "exec"), namespace)
        out = []
        for width, height, patch, overlap in json.load(sys.stdin):
            image = np.broadcast_to(np.uint8(0), (3, height, width))
            out.append([[w.x, w.y, w.w, w.h] for w in namespace["compute_windows"](image, patch, overlap)])
        print(json.dumps(out))
        """

    struct Case: Codable {
        var width: Int, height: Int, patch: Int, overlap: Double
    }

    @Test("tiling=stride places DeepForest's windows: same offsets, same count, on 216 rasters, patches and overlaps",
          .enabled(if: present, "needs .fixtures/deepforest-code: run scripts/test.sh (it fetches DeepForest's code)"))
    func sameWindows() throws {
        let sizes = [(400, 400), (401, 400), (780, 780), (1024, 1000), (2000, 1500), (2047, 3001), (5000, 400), (20000, 512), (100_000, 1024)]
        var cases: [Case] = []
        for (width, height) in sizes {
            for patch in [256, 400, 512, 1000] {
                for overlap in [0, 0.05, 0.1, 0.25, 0.5, 0.9] { cases.append(Case(width: width, height: height, patch: patch, overlap: overlap)) }
            }
        }
        let input = try JSONSerialization.data(withJSONObject: cases.map { [$0.width, $0.height, $0.patch, $0.overlap] as [Any] })
        let stdin = FileManager.default.temporaryDirectory.appendingPathComponent("windows-\(UUID().uuidString).json")
        try input.write(to: stdin)
        defer { try? FileManager.default.removeItem(at: stdin) }
        let result = try TestSupport.run("/bin/sh", ["-c", "\(TestSupport.systemPython) -c \"$0\" \"$1\" < \"$2\"", Self.script, Self.code.path, stdin.path])
        try #require(result.status == 0, "\(result.stderr)")
        let theirs = try JSONDecoder().decode([[[Int]]].self, from: Data(result.stdout.utf8))
        try #require(theirs.count == cases.count)
        var windows = 0
        for (c, expected) in zip(cases, theirs) {
            // DeepForest's overlap in pixels, from the window as it clips it to the raster.
            let overlap = Int((Double(min(c.patch, c.width)) * c.overlap).rounded(.down))
            let grid = TileGrid(rasterWidth: c.width, rasterHeight: c.height, tileSize: c.patch, overlap: overlap, layout: .stride)
            let ours = Set(grid.windows.map { [$0.colOff, $0.rowOff] }), wanted = Set(expected.map { [$0[0], $0[1]] })
            #expect(ours == wanted && grid.count == expected.count,
                    "\(c): \(grid.count) windows (columns \(grid.columnOffsets.prefix(6))), DeepForest's \(expected.count)")
            // Where the raster holds a whole patch, the windows are the same size too
            // (DeepForest shrinks a window to a smaller raster; mgpr reads it boundless).
            if c.width >= c.patch && c.height >= c.patch {
                #expect(expected.allSatisfy { $0[2] == c.patch && $0[3] == c.patch }, "\(c)")
            }
            windows += expected.count
        }
        #expect(windows > 100_000, "the cases hold \(windows) windows")
    }

    @Test("the issue's figures: 0, 380, 624 on 1024 px; 0, 380, ..., 1520, 1600 on 2000 px (400 px, 5%)")
    func documentedOffsets() {
        #expect(TileGrid.offsets(length: 1024, tile: 400, overlap: 20, layout: .stride) == [0, 380, 624])
        #expect(TileGrid.offsets(length: 2000, tile: 400, overlap: 20, layout: .stride) == [0, 380, 760, 1140, 1520, 1600])
        #expect(TileGrid.offsets(length: 1140, tile: 400, overlap: 20, layout: .stride) == [0, 380, 740])
        #expect(TileGrid.offsets(length: 1160, tile: 400, overlap: 20, layout: .stride) == [0, 380, 760])
        #expect(TileGrid.offsets(length: 300, tile: 400, overlap: 20, layout: .stride) == [0])
    }
}
