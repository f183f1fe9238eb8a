import Foundation
import Testing
import TestSupport
import Tiling
@testable import Raster

/// Class rasters larger than GDAL's block cache: blocks reach the file while the raster
/// is still being written, so every tag must be set before the first write, and blocks
/// never written must read back as nodata. Read back with rasterio.
@Suite("Class raster writer", .serialized)
struct ClassRasterTests {
    @Test("a class raster larger than the block cache keeps its palette, names and nodata where no cell was written")
    func largerThanCache() throws {
        let directory = try TestSupport.temporaryDirectory()
        let path = directory.appendingPathComponent("classes.tif").path
        let kept = GDALLibrary.cacheMaxBytes
        GDALLibrary.setCacheMax(bytes: 1 << 20)
        defer { GDALLibrary.setCacheMax(bytes: kept) }
        let writer = try ClassRasterWriter(
            path: path, width: 2000, height: 2000, classes: 3, names: ["water", "tree", "road"],
            georeference: Georeference(transform: GeoTransform([400000, 0.5, 0, 3300000, 0, -0.5]), crsWKT: nil))
        // 4 MB of blocks through a 1 MB cache: the first blocks are flushed long before the last.
        for (i, window) in [(0, 0, 700, 700), (700, 0, 1300, 1300), (1500, 1500, 500, 500)].enumerated() {
            let w = Window(colOff: window.0, rowOff: window.1, width: window.2, height: window.3)
            try writer.write(w, ids: [UInt16](repeating: UInt16(i), count: w.area))
        }
        try writer.finish()
        let script = """
            import json, sys, numpy, rasterio
            with rasterio.open(sys.argv[1]) as ds:
                ids, counts = numpy.unique(ds.read(1), return_counts=True)
                print(json.dumps({"nodata": ds.nodata, "colour": list(ds.colormap(1)[1]), "layout": ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"),
                                  "counts": {str(i): int(c) for i, c in zip(ids, counts)}}))
            """
        let result = try TestSupport.run(TestSupport.systemPython, ["-c", script, path])
        try #require(result.status == 0, "rasterio: \(result.stderr)")
        struct Read: Decodable { var nodata: Double?, colour: [Int], layout: String?, counts: [String: Int] }
        let read = try JSONDecoder().decode(Read.self, from: Data(result.stdout.utf8))
        #expect(read.nodata == 255 && read.layout == "COG")
        let (r, g, b) = ClassRasterWriter.colour(1)
        #expect(read.colour == [r, g, b, 255])
        let nodata = 2000 * 2000 - 700 * 700 - 1300 * 1300 - 500 * 500
        #expect(read.counts == ["0": 700 * 700, "1": 1300 * 1300, "2": 500 * 500, "255": nodata])
        let aux = try String(contentsOfFile: path + ".aux.xml", encoding: .utf8)
        #expect(aux.contains("<Category>road</Category>"))
    }
}
