import Configuration
import Foundation
import Raster
import Results
import Tiling

/// The report's map: the raster's picture with every tile drawn on it as the part of the
/// raster nearest its centre, coloured by what happened to it, and a legend whose every
/// colour is one the map uses. Detections are coloured on a perceptual scale (viridis:
/// even steps look even, and it stays readable over green canopy); classes by a palette
/// without the red of "not done"; done, skipped and not done never share a colour.
struct TileMap {
    let report: RunReport
    let raster: RasterContext
    let grid: TileGrid

    init(report: RunReport, raster: RasterContext) {
        (self.report, self.raster) = (report, raster)
        grid = raster.grid
    }

    /// Grids up to this many tiles are drawn cell by cell, outlined; larger ones as one
    /// image of one pixel per tile (a million outlines would be a page no one can open).
    static let drawnCellLimit = 2500

    static let notDone = Color(0xE4_1A_1C), skipped = Color(0x96_96_96), done = Color(0x1B_6C_A8)
    /// Classes, most frequent first: tab10 without its red (not done) and grey (skipped).
    static let classColors = [0x1F_77_B4, 0xFF_7F_0E, 0x2C_A0_2C, 0x94_67_BD, 0x8C_56_4B, 0xE3_77_C2, 0xBC_BD_22, 0x17_BE_CF].map(Color.init)
    static let otherClasses = Color(0xF7_F7_F7)

    struct Color: Equatable {
        let r: UInt8, g: UInt8, b: UInt8
        init(_ hex: Int) { (r, g, b) = (UInt8(hex >> 16 & 255), UInt8(hex >> 8 & 255), UInt8(hex & 255)) }
        init(r: UInt8, g: UInt8, b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }
        var css: String { String(format: "#%02x%02x%02x", r, g, b) }
    }

    /// Viridis at nine even steps; between them, linear in RGB.
    static let viridis = [0x44_01_54, 0x47_2D_7B, 0x3B_52_8B, 0x2C_72_8E, 0x21_91_8C, 0x28_AE_80, 0x5E_C9_62, 0xAD_DC_30, 0xFD_E7_25].map(Color.init)

    static func viridis(_ t: Double) -> Color {
        let x = min(max(t, 0), 1) * Double(viridis.count - 1), i = min(Int(x), viridis.count - 2), f = x - Double(i)
        let (a, b) = (viridis[i], viridis[i + 1])
        func mix(_ p: UInt8, _ q: UInt8) -> UInt8 { UInt8((Double(p) + (Double(q) - Double(p)) * f).rounded()) }
        return Color(r: mix(a.r, b.r), g: mix(a.g, b.g), b: mix(a.b, b.b))
    }

    /// The classes the legend names, most frequent first, each with its colour.
    var shownClasses: [(classIndex: Int, tiles: Int, color: Color)] {
        let counts = Dictionary(grouping: report.classPerTile.values, by: { $0 }).mapValues(\.count)
        return counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(Self.classColors.count).enumerated().map {
            ($1.key, $1.value, Self.classColors[$0])
        }
    }

    var maxDetections: Int { max(report.detectionsPerTile.values.max() ?? 0, 1) }

    /// Each tile's colour and what it says.
    func tiles() -> [(color: Color, title: String)] {
        let classColor = Dictionary(uniqueKeysWithValues: shownClasses.map { ($0.classIndex, $0.color) })
        let hasDetections = report.resultsFormat == .detection
        return (0..<grid.count).map { tile in
            if report.skipped.contains(tile) { return (Self.skipped, "tile \(tile): skipped (no data)") }
            if !report.done.contains(tile) { return (Self.notDone, "tile \(tile): not done") }
            if hasDetections {
                let count = report.detectionsPerTile[tile] ?? 0
                return (Self.viridis(Double(count) / Double(maxDetections)), "tile \(tile): \(count) detection\(count == 1 ? "" : "s")")
            }
            if let top = report.classPerTile[tile] {
                return (classColor[top] ?? Self.otherClasses, "tile \(tile): \(report.className(top))")
            }
            return (Self.done, "tile \(tile): done")
        }
    }

    func html() -> String {
        let (picture, problem) = thumbnail()
        let colors = tiles()
        if let classes = classRaster() { return segmentation(picture: picture, problem: problem, classes: classes, colors: colors) }
        let overlay = grid.count <= Self.drawnCellLimit ? cells(colors) : pixels(colors)
        var html = problem.map { "<p>\(SVGChart.escape($0))</p>" } ?? ""
        html += "<div class=\"map\">\(picture)\(overlay)</div>"
        var caption = "\(grid.columns) x \(grid.rows) tiles of \(raster.tileSize) px"
        if raster.overlap > 0 { caption += ", overlapping by at least \(raster.overlap) px" }
        caption += grid.count > 1 ? "; each cell is the part of the raster nearest its tile's centre." : "."
        return html + "<p class=\"key\">\(caption)</p>" + legend(used: colors.map(\.color))
    }

    /// A segmentation's class raster, once gathered: the path and its classes table.
    private func classRaster() -> (path: String, table: String?)? {
        guard report.resultsFormat == .segmentation, let path = report.resultsWritten?.path,
              FileManager.default.fileExists(atPath: path) else { return nil }
        let table = (path as NSString).deletingPathExtension + ".classes.csv"
        return (path, try? String(contentsOfFile: table, encoding: .utf8))
    }

    /// The class raster over the input's picture in its own palette (nodata clear), the
    /// tiles not done or skipped outlined on top, and a legend of the classes with their
    /// share of the pixels from `classes.csv`.
    private func segmentation(picture: String, problem: String?, classes: (path: String, table: String?), colors: [(color: Color, title: String)]) -> String {
        var html = problem.map { "<p>\(SVGChart.escape($0))</p>" } ?? ""
        let scale = min(1, 900 / Double(max(grid.rasterWidth, grid.rasterHeight)))
        let width = max(1, Int(Double(grid.rasterWidth) * scale)), height = max(1, Int(Double(grid.rasterHeight) * scale))
        var overlay = ""
        do {
            let rgba = try ClassRasterPicture.read(path: classes.path, width: width, height: height, opacity: 170)
            let png = try PNGImage.encode(bands: rgba, width: width, height: height)
            overlay = "<img class=\"tiles\" alt=\"classes\" src=\"data:image/png;base64,\(png.base64EncodedString())\"/>"
        } catch {
            html += "<p>\(SVGChart.escape("The class raster \(classes.path) could not be read for a picture: \(error)"))</p>"
        }
        // Only tiles that need attention are drawn over the classes.
        let attention = colors.map { $0.color == Self.notDone || $0.color == Self.skipped ? $0 : (color: Color(0), title: "") }
        let outlines = grid.count <= Self.drawnCellLimit && attention.contains { !$0.title.isEmpty } ? cells(attention, only: true) : ""
        html += "<div class=\"map\">\(picture)\(overlay)\(outlines)</div>"
        html += "<p class=\"key\">Classes of \(SVGChart.escape(classes.path)) over the raster"
            + (raster.stitch == .blend ? " (windows blended)" : ", each pixel from the window it lies farthest inside") + ".</p>"
        var items: [String] = []
        // class,name,pixels,area,fraction: the id first and the fraction last, whatever a name holds.
        for line in (classes.table ?? "").split(separator: "\n").dropFirst() {
            guard let id = line.split(separator: ",").first.flatMap({ Int($0) }),
                  let fraction = line.split(separator: ",").last.flatMap({ Double($0) }) else { continue }
            let (r, g, b) = ClassRasterWriter.colour(id)
            items.append(String(format: "<span class=\"swatch\" style=\"background:#%02x%02x%02x\"></span>", r, g, b)
                         + SVGChart.escape("\(report.className(id)) (\(String(format: "%.1f", fraction * 100))%)"))
        }
        let states = Set(attention.filter { !$0.title.isEmpty }.map(\.color.css))
        for (color, text) in [(Self.skipped, "skipped (no data)"), (Self.notDone, "not done")] where states.contains(color.css) {
            items.append("<span class=\"swatch\" style=\"background:\(color.css)\"></span>\(text)")
        }
        return html + "<p class=\"key\">" + items.joined(separator: " ") + "</p>"
    }

    /// The legend: only colours the map uses, each with what it means.
    func legend(used: [Color]) -> String {
        let used = Set(used.map(\.css))
        var items: [String] = []
        func swatch(_ color: Color, _ text: String) {
            guard used.contains(color.css) else { return }
            items.append("<span class=\"swatch\" style=\"background:\(color.css)\"></span>\(SVGChart.escape(text))")
        }
        if report.resultsFormat == .detection {
            let stops = Self.viridis.enumerated().map { "\($1.css) \(Int(Double($0) / Double(Self.viridis.count - 1) * 100))%" }
            items.append("detections in the tile: 0<span class=\"scale\" style=\"background:linear-gradient(to right,"
                         + stops.joined(separator: ",") + ")\"></span>\(maxDetections)")
        } else if !report.classPerTile.isEmpty {
            for shown in shownClasses { swatch(shown.color, "\(report.className(shown.classIndex)) (\(shown.tiles))") }
            swatch(Self.otherClasses, "other classes")
        } else {
            swatch(Self.done, "done")
        }
        swatch(Self.skipped, "skipped (no data)")
        swatch(Self.notDone, "not done")
        return "<p class=\"key\">" + items.joined(separator: " ") + "</p>"
    }

    /// The cells as SVG over the picture, in the raster's pixels: a translucent fill and
    /// an outline in the full colour, drawn inside the cell so neighbours never hide it.
    /// Grids up to this many tiles also say each tile's count of detections in its cell:
    /// a number reads true over any picture, where a colour can blend into it.
    static let labelledCellLimit = 400

    private func cells(_ colors: [(color: Color, title: String)], only: Bool = false) -> String {
        let smallest = (0..<grid.count).map { grid.nearestCell(at: $0) }.map { min($0.width, $0.height) }.min() ?? 1
        let stroke = min(Double(max(grid.rasterWidth, grid.rasterHeight)) / 200, Double(smallest) / 12)
        let fontSize = Double(smallest) / 5
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(grid.rasterWidth) \(grid.rasterHeight)\" "
            + "preserveAspectRatio=\"none\" class=\"cells\">"
        for (tile, paint) in colors.enumerated() where !only || !paint.title.isEmpty {
            let cell = grid.nearestCell(at: tile)
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" stroke=\"%@\" stroke-width=\"%.1f\">",
                          Double(cell.colOff) + stroke / 2, Double(cell.rowOff) + stroke / 2, max(Double(cell.width) - stroke, 0),
                          max(Double(cell.height) - stroke, 0), paint.color.css, paint.color.css, stroke)
            svg += "<title>\(SVGChart.escape(paint.title))</title></rect>"
            if grid.count <= Self.labelledCellLimit, report.resultsFormat == .detection, report.done.contains(tile), !report.skipped.contains(tile) {
                let size = fontSize
                svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" stroke-width=\"%.1f\" class=\"count\">%d</text>",
                              Double(cell.colOff) + Double(cell.width) / 2, Double(cell.rowOff) + Double(cell.height) / 2 + size * 0.35,
                              size, size / 8, report.detectionsPerTile[tile] ?? 0)
            }
        }
        return svg + "</svg>"
    }

    /// One pixel per tile, stretched over the picture: a 100k-tile grid stays one small image.
    private func pixels(_ colors: [(color: Color, title: String)]) -> String {
        var bands = [[UInt8]](repeating: [UInt8](repeating: 0, count: grid.count), count: 4)
        for (tile, paint) in colors.enumerated() {
            (bands[0][tile], bands[1][tile], bands[2][tile], bands[3][tile]) = (paint.color.r, paint.color.g, paint.color.b, 150)
        }
        guard let png = try? PNGImage.encode(bands: bands, width: grid.columns, height: grid.rows) else { return "" }
        return "<img class=\"tiles\" alt=\"tile states\" src=\"data:image/png;base64,\(png.base64EncodedString())\"/>"
    }

    /// The raster in at most 900 px as JPEG (its first band alone when it has fewer than
    /// three), or a grey box with the reason it could not be read.
    private func thumbnail() -> (html: String, problem: String?) {
        func jpeg(_ bands: [Int]) throws -> String {
            let image = try RasterDataset(path: raster.imagePath, bands: bands).thumbnail(maxSide: 900)
            let data = try PNGImage.encode(bands: image.bands, width: image.width, height: image.height, format: .jpeg)
            return "<img alt=\"the raster\" src=\"data:image/jpeg;base64,\(data.base64EncodedString())\"/>"
        }
        do { return (try jpeg([1, 2, 3]), nil) } catch {
            if let single = try? jpeg([1]) { return (single, nil) }
            let box = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"%.0f\"><rect width=\"100%%\" height=\"100%%\" fill=\"#f4f4f4\"/></svg>",
                             720 * Double(raster.height) / Double(max(raster.width, 1)))
            return (box, "The raster (\(raster.imagePath)) could not be read for a picture: \(error)")
        }
    }
}
