import Testing
@testable import Tiling

@Suite("TileGrid")
struct TileGridTests {
    @Test("an image smaller than a tile gets one tile that reaches past its edges")
    func smallerThanTile() {
        let grid = TileGrid(rasterWidth: 400, rasterHeight: 300, tileSize: 1024)
        #expect(grid.count == 1)
        #expect(grid.window(at: 0) == Window(colOff: 0, rowOff: 0, width: 1024, height: 1024))
    }

    @Test("exact multiples tile without overlap: 4096 px in 1024 px tiles is 4x4")
    func exactMultiples() {
        let grid = TileGrid(rasterWidth: 4096, rasterHeight: 4096, tileSize: 1024)
        #expect(grid.count == 16)
        #expect(grid.columnOffsets == [0, 1024, 2048, 3072])
        #expect(grid.window(at: 5) == Window(colOff: 1024, rowOff: 1024, width: 1024, height: 1024))
    }

    @Test("a side equal to the tile gets one tile exactly on it")
    func sideEqualToTile() {
        let grid = TileGrid(rasterWidth: 1024, rasterHeight: 2048, tileSize: 1024)
        #expect(grid.columnOffsets == [0])
        #expect(grid.rowOffsets == [0, 1024])
    }

    @Test("a remainder is absorbed by spreading tiles, the last one flush with the edge")
    func remainderSpread() {
        let grid = TileGrid(rasterWidth: 2500, rasterHeight: 1100, tileSize: 1024)
        #expect(grid.columnOffsets == [0, 738, 1476])
        #expect(grid.rowOffsets == [0, 76])
    }

    @Test("each tile's nearest cell: cut at the middle of its overlaps, the cells tiling the raster once", arguments: [
        (1436, 512, 50), (780, 400, 50), (400, 1024, 0), (4096, 1024, 0), (2500, 1024, 100), (3000, 500, 50),
    ])
    func nearestCells(length: Int, tile: Int, overlap: Int) {
        let grid = TileGrid(rasterWidth: length, rasterHeight: length / 2 + 1, tileSize: tile, overlap: overlap)
        var covered = [Int](repeating: 0, count: grid.rasterWidth * grid.rasterHeight)
        for i in 0..<grid.count {
            let cell = grid.nearestCell(at: i), window = grid.window(at: i)
            #expect(window.intersection(cell) == cell, "tile \(i): cell \(cell) outside its window \(window)")
            for r in cell.rowOff..<cell.rowEnd { for c in cell.colOff..<cell.colEnd { covered[r * grid.rasterWidth + c] += 1 } }
        }
        #expect(covered.allSatisfy { $0 == 1 }, "cells must cover every pixel exactly once")
        if grid.columns == 3, tile == 512 {
            // Tiles at 0, 462 and 924: the cells change hands at 487 and 949.
            #expect(grid.columnOffsets == [0, 462, 924])
            #expect((0..<3).map { grid.nearestCell(at: $0).colOff } == [0, 487, 949])
        }
    }

    @Test("the cells a window reaches into split the window's pixels in the raster once each, each piece in its cell", arguments: [
        (400, 192, 48), (1436, 512, 50), (780, 400, 50), (300, 1024, 0), (3000, 500, 300),
    ])
    func cellsOverlappingWindow(length: Int, tile: Int, overlap: Int) {
        let grid = TileGrid(rasterWidth: length, rasterHeight: length / 2 + 1, tileSize: tile, overlap: overlap)
        var reached = 0
        for i in 0..<grid.count {
            let window = grid.window(at: i)
            let pieces = grid.cells(overlapping: window)
            #expect(pieces.contains { $0.index == i && $0.pixels == grid.nearestCell(at: i) }, "tile \(i)'s own cell")
            for piece in pieces {
                #expect(grid.nearestCell(at: piece.index).intersection(piece.pixels) == piece.pixels)
                #expect(window.intersection(piece.pixels) == piece.pixels)
            }
            let inRaster = window.clipped(toWidth: grid.rasterWidth, height: grid.rasterHeight)!.area
            #expect(pieces.map(\.pixels.area).reduce(0, +) == inRaster, "tile \(i)'s pieces cover its window once")
            reached += pieces.count - 1
        }
        #expect(grid.count == 1 || reached > 0, "overlapping windows reach into their neighbours' cells")
    }

    @Test("the windows that reach into a cell are every window sharing its pixels, with those pixels", arguments: [
        (400, 192, 48), (1436, 512, 50), (780, 400, 50), (300, 1024, 0), (3000, 500, 300),
    ])
    func windowsOverlappingCell(length: Int, tile: Int, overlap: Int) {
        for layout in [TileLayout.spread, .stride] {
            let grid = TileGrid(rasterWidth: length, rasterHeight: length / 2 + 1, tileSize: tile, overlap: overlap, layout: layout)
            for i in 0..<grid.count {
                let cell = grid.nearestCell(at: i)
                let expected = (0..<grid.count).compactMap { j in grid.window(at: j).intersection(cell).map { (j, $0) } }
                let found = grid.windows(overlapping: cell)
                #expect(found.map(\.index) == expected.map(\.0) && found.map(\.pixels) == expected.map(\.1), "cell \(i)")
                #expect(found.contains { $0.index == i && $0.pixels == cell }, "tile \(i)'s own window covers its cell")
            }
        }
    }

    @Test("tiles are numbered row-major")
    func rowMajor() {
        let grid = TileGrid(rasterWidth: 3000, rasterHeight: 2000, tileSize: 1024)
        #expect(grid.columns == 3 && grid.rows == 2)
        #expect(grid.window(at: 4).colOff == grid.columnOffsets[1])
        #expect(grid.window(at: 4).rowOff == grid.rowOffsets[1])
    }

    @Test(
        "every layout covers the image, keeps the minimum overlap, stays aligned and uses the fewest tiles",
        arguments: [1, 5, 100, 1000, 1023, 1024, 1025, 2047, 2048, 4097, 10000],
        [(256, 0), (256, 32), (1024, 0), (1024, 100), (100, 99)])
    func invariants(length: Int, layout: (tile: Int, overlap: Int)) {
        let (tile, overlap) = layout
        let offsets = TileGrid.offsets(length: length, tile: tile, overlap: overlap)
        #expect(offsets.first == 0)
        if length <= tile {
            #expect(offsets == [0])
            return
        }
        #expect(offsets.last! + tile == length, "the last tile ends on the image edge")
        for (a, b) in zip(offsets, offsets.dropFirst()) {
            #expect(b > a)
            #expect(a + tile - b >= overlap, "tiles at \(a) and \(b) overlap less than \(overlap)")
        }
        // One tile fewer cannot cover the length with that overlap.
        let fewer = offsets.count - 1
        #expect(fewer * tile - (fewer - 1) * overlap < length)
    }
}

@Suite("Window")
struct WindowTests {
    @Test("a window past the edge is clipped to the part inside")
    func clipping() {
        let w = Window(colOff: 300, rowOff: -10, width: 200, height: 50)
        #expect(w.clipped(toWidth: 400, height: 400) == Window(colOff: 300, rowOff: 0, width: 100, height: 40))
        #expect(Window(colOff: 500, rowOff: 0, width: 10, height: 10).clipped(toWidth: 400, height: 400) == nil)
    }

    @Test("windows that only touch do not intersect")
    func touching() {
        let a = Window(colOff: 0, rowOff: 0, width: 10, height: 10)
        #expect(a.intersection(Window(colOff: 10, rowOff: 0, width: 5, height: 5)) == nil)
        #expect(a.intersection(Window(colOff: 9, rowOff: 9, width: 5, height: 5))?.area == 1)
    }
}

@Suite("GeoTransform")
struct GeoTransformTests {
    let utm = GeoTransform(originX: 404_211.9, originY: 3_285_142.9, pixelSize: 0.1)

    @Test("pixel corners map to the CRS as GDAL defines it")
    func pixelToMap() {
        let (x, y) = utm.apply(col: 400, row: 400)
        #expect(abs(x - 404_251.9) < 1e-6)
        #expect(abs(y - 3_285_102.9) < 1e-6)
    }

    @Test("a tile's own transform starts at its corner")
    func shifted() {
        let tile = utm.shifted(to: Window(colOff: 100, rowOff: 200, width: 50, height: 50))
        #expect(abs(tile.originX - 404_221.9) < 1e-6)
        #expect(abs(tile.originY - 3_285_122.9) < 1e-6)
        #expect(tile.pixelWidth == 0.1 && tile.pixelHeight == -0.1)
    }

    @Test("bounds are ordered min/max even though y grows downwards in pixels")
    func bounds() {
        let b = utm.bounds(of: Window(colOff: 0, rowOff: 0, width: 400, height: 400))
        #expect(abs(b.minX - 404_211.9) < 1e-6 && abs(b.maxX - 404_251.9) < 1e-6)
        #expect(abs(b.minY - 3_285_102.9) < 1e-6 && abs(b.maxY - 3_285_142.9) < 1e-6)
    }

    @Test("tile info carries its window's bounds")
    func tileBounds() {
        let window = Window(colOff: 200, rowOff: 200, width: 400, height: 400)
        let info = TileInfo(index: 3, window: window, transform: utm.shifted(to: window))
        #expect(abs(info.bounds.minX - 404_231.9) < 1e-6)
        #expect(abs(info.bounds.maxY - 3_285_122.9) < 1e-6)
    }
}

@Suite("PixelNoise")
struct PixelNoiseTests {
    @Test("the same seed and stream give the same values, another stream different ones")
    func reproducible() {
        var a = PixelNoise(seed: 7, stream: 3), b = PixelNoise(seed: 7, stream: 3), c = PixelNoise(seed: 7, stream: 4)
        let x = (0..<8).map { _ in a.next() }
        #expect(x == (0..<8).map { _ in b.next() })
        #expect(x != (0..<8).map { _ in c.next() })
    }

    @Test("floats are uniform in [0, 1)")
    func floats() {
        var noise = PixelNoise(seed: 1)
        var values = [Float](repeating: -1, count: 100_001)
        values.withUnsafeMutableBufferPointer { noise.fill($0) }
        #expect(values.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = values.reduce(0, +) / Float(values.count)
        #expect(abs(mean - 0.5) < 0.01)
    }
}
