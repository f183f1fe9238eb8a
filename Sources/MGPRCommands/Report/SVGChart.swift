import Foundation

/// Small charts as inline SVG: axes with round ticks, a legend, no script. Values are
/// aggregated by the caller, so a chart stays a few kilobytes for any run.
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    static let palette = ["#1b6ca8", "#e07b00", "#2a9d3a", "#c0392b", "#7d3c98", "#8c564b", "#d6338a", "#5f6b73"]
    let width = 720.0, height = 240.0
    let left = 64.0, right = 16.0, top = 12.0, bottom = 36.0

    /// Lines, one per series, over a shared x axis.
    func lines(_ series: [Series], xLabel: String, yLabel: String, mark: (label: String, y: Double)? = nil) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) } + [mark?.y ?? 0]
        let (xMax, yMax) = (Self.roundUp(xs.max() ?? 1), Self.roundUp(ys.max() ?? 1))
        var svg = frame(xMax: xMax, yMax: yMax, xLabel: xLabel, yLabel: yLabel)
        for (i, s) in series.enumerated() where !s.points.isEmpty {
            let path = s.points.map { String(format: "%.1f,%.1f", x($0.x, xMax), y($0.y, yMax)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(Self.palette[i % Self.palette.count])\" stroke-width=\"1.6\" points=\"\(path)\"/>"
        }
        if let mark {
            svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
                          left, width - right, y(mark.y, yMax), y(mark.y, yMax))
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">%@</text>", width - right - 4, y(mark.y, yMax) - 4,
                          Self.escape(mark.label))
        }
        return svg + legend(series.map(\.name)) + "</svg>"
    }

    /// Bars of stacked parts (each bar: one value per part), e.g. seconds per batch.
    func stacked(_ bars: [[Double]], parts: [String], xLabel: String, yLabel: String) -> String {
        let yMax = Self.roundUp(bars.map { $0.reduce(0, +) }.max() ?? 1)
        var svg = frame(xMax: Double(max(bars.count, 1)), yMax: yMax, xLabel: xLabel, yLabel: yLabel)
        let step = (width - left - right) / Double(max(bars.count, 1))
        for (i, bar) in bars.enumerated() {
            var base = 0.0
            for (k, value) in bar.enumerated() where value > 0 {
                let y0 = y(base, yMax), y1 = y(base + value, yMax)
                svg += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%@\"/>",
                              left + Double(i) * step, y1, max(step * 0.85, 0.5), y0 - y1, Self.palette[k % Self.palette.count])
                base += value
            }
        }
        return svg + legend(parts) + "</svg>"
    }

    private func x(_ v: Double, _ max: Double) -> Double { left + v / max * (width - left - right) }
    private func y(_ v: Double, _ max: Double) -> Double { height - bottom - v / max * (height - top - bottom) }

    private func frame(xMax: Double, yMax: Double, xLabel: String, yLabel: String) -> String {
        var svg = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" class=\"chart\">", width, height)
        for k in 0...4 {
            let v = yMax * Double(k) / 4, py = y(v, yMax)
            svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", left, width - right, py, py)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%@</text>", left - 6, py + 4, Self.number(v))
            let xv = xMax * Double(k) / 4, px = x(xv, xMax)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tick\">%@</text>",
                          px, height - bottom + 16, Self.number(xv))
        }
        svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"axis\">%@</text>",
                      left + (width - left - right) / 2, height - 4, Self.escape(xLabel))
        svg += String(format: "<text x=\"12\" y=\"%.1f\" text-anchor=\"middle\" class=\"axis\" transform=\"rotate(-90 12 %.1f)\">%@</text>",
                      top + (height - top - bottom) / 2, top + (height - top - bottom) / 2, Self.escape(yLabel))
        return svg
    }

    /// Names with their colours across the top, wrapping to a second line when long.
    private func legend(_ names: [String]) -> String {
        var svg = "", px = left + 8, py = top + 2
        for (i, name) in names.enumerated() {
            let needed = 22 + Double(name.count) * 6
            if px + needed > width - right, px > left + 8 { (px, py) = (left + 8, py + 14) }
            svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%@\"/>", px, py,
                          Self.palette[i % Self.palette.count])
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%@</text>", px + 14, py + 9, Self.escape(name))
            px += needed
        }
        return svg
    }

    /// 1, 2 or 5 times a power of ten, at least `v`: axis ends people read at a glance.
    static func roundUp(_ v: Double) -> Double {
        guard v > 0, v.isFinite else { return 1 }
        let power = pow(10, floor(log10(v)))
        return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= v } ?? 10 * power
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e6 ? String(Int(v)) : abs(v) >= 10 ? String(format: "%.0f", v) : String(format: "%.2g", v)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
