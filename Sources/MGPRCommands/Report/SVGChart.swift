import Foundation

/// Small charts as inline SVG: axes with 1-2-5 ticks, a legend, a tooltip on every mark,
/// no script. Values are aggregated by the caller, so a chart stays a few kilobytes for
/// any run.
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    /// A stacked bar: the numbers it stands for on the x axis (one batch, or a group of
    /// batches averaged), its name in tooltips, and one value per part.
    struct Bar {
        var first: Int, last: Int
        var name: String
        var values: [Double]
    }

    /// A part of stacked bars: its name in the legend and its colour.
    struct Part {
        var name: String
        var color: String
    }

    static let palette = ["#1b6ca8", "#e07b00", "#2a9d3a", "#c0392b", "#7d3c98", "#8c564b", "#d6338a", "#5f6b73"]
    let width = 720.0, plotHeight = 180.0
    let left = 64.0, right = 16.0, bottom = 36.0
    /// The legend's rows, above the plot so it never covers a mark.
    private let legendRows: [[Part]]
    private var top: Double { 8 + Double(legendRows.count) * 14 + 8 }
    private var height: Double { top + plotHeight + bottom }

    /// A chart whose legend names `parts`, in rows that fit its width.
    init(legend parts: [Part]) {
        var rows: [[Part]] = [], used = 0.0
        for part in parts {
            let needed = 22 + Double(part.name.count) * 6
            if rows.isEmpty || used + needed > width - left - right - 8 && !rows[rows.count - 1].isEmpty {
                rows.append([])
                used = 0
            }
            rows[rows.count - 1].append(part)
            used += needed
        }
        legendRows = rows
    }

    /// The legend's entries for lines, one per series, in the palette's colours.
    static func parts(_ series: [Series]) -> [Part] {
        series.enumerated().map { Part(name: $1.name, color: palette[$0 % palette.count]) }
    }

    /// Lines, one per series, over a shared x axis; the chart's legend names the series.
    func lines(_ series: [Series], xLabel: String, yLabel: String, mark: (label: String, y: Double)? = nil) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) } + [mark?.y ?? 0]
        let xAxis = Axis(upTo: xs.max() ?? 1), yAxis = Axis(upTo: ys.max() ?? 1)
        var svg = frame(yAxis: yAxis, xLabel: xLabel, yLabel: yLabel)
        svg += xAxis.ticks.map { xTick(x($0, xAxis.end), xAxis.text($0)) }.joined()
        for (i, s) in series.enumerated() where !s.points.isEmpty {
            let path = s.points.map { String(format: "%.1f,%.1f", x($0.x, xAxis.end), y($0.y, yAxis.end)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(Self.palette[i % Self.palette.count])\" stroke-width=\"1.6\" points=\"\(path)\">"
                + "<title>\(Self.escape(s.name))</title></polyline>"
        }
        if let mark {
            let py = y(mark.y, yAxis.end)
            svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
                          left, width - right, py, py)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"note\">%@</text>", width - right - 4, py - 4, Self.escape(mark.label))
        }
        return svg + legend() + "</svg>"
    }

    /// Bars of stacked parts (the chart's legend), e.g. seconds per batch. Every rectangle
    /// carries its value (`data-value`) and a tooltip; the x axis labels bars by their own numbers.
    func stacked(_ bars: [Bar], unit: String, xLabel: String, yLabel: String) -> String {
        let parts = legendRows.flatMap { $0 }
        let yAxis = Axis(upTo: bars.map { $0.values.reduce(0, +) }.max() ?? 1)
        var svg = frame(yAxis: yAxis, xLabel: xLabel, yLabel: yLabel)
        // Numbers from 0.5 to the last + 0.5: each bar spans the numbers it stands for.
        let first = Double(bars.map(\.first).min() ?? 1) - 0.5, last = Double(bars.map(\.last).max() ?? 1) + 0.5
        func px(_ n: Double) -> Double { left + (n - first) / max(last - first, 1) * (width - left - right) }
        for bar in bars {
            let x0 = px(Double(bar.first) - 0.5), x1 = px(Double(bar.last) + 0.5), gap = min((x1 - x0) * 0.15, 2)
            svg += "<g data-first=\"\(bar.first)\" data-last=\"\(bar.last)\">"
            var base = 0.0
            for (k, value) in bar.values.enumerated() where value > 0 {
                let y0 = y(base, yAxis.end), y1 = y(base + value, yAxis.end)
                svg += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%@\" data-value=\"%.6f\">",
                              x0, y1, max(x1 - x0 - gap, 0.5), y0 - y1, parts[k].color, value)
                svg += "<title>\(Self.escape(bar.name)): \(Self.escape(parts[k].name)) \(Self.value(value)) \(unit)</title></rect>"
                base += value
            }
            svg += "</g>"
        }
        let numbers = Axis(upTo: last - 0.5, integer: true)
        for n in numbers.ticks where n >= first + 0.5 && n <= last - 0.5 {
            svg += xTick(px(n) - min((px(n + 0.5) - px(n - 0.5)) * 0.075, 1), numbers.text(n))
        }
        return svg + legend() + "</svg>"
    }

    private func x(_ v: Double, _ max: Double) -> Double { left + v / max * (width - left - right) }
    private func y(_ v: Double, _ max: Double) -> Double { top + plotHeight - v / max * plotHeight }

    private func xTick(_ px: Double, _ text: String) -> String {
        String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tick\">%@</text>", px, height - bottom + 16, text)
    }

    /// The plot's grid lines with the y axis's ticks, and both axes' names.
    private func frame(yAxis: Axis, xLabel: String, yLabel: String) -> String {
        var svg = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" class=\"chart\">", width, height)
        for v in yAxis.ticks {
            let py = y(v, yAxis.end)
            svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", left, width - right, py, py)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%@</text>", left - 6, py + 4, yAxis.text(v))
        }
        svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"axis\">%@</text>",
                      left + (width - left - right) / 2, height - 4, Self.escape(xLabel))
        svg += String(format: "<text x=\"12\" y=\"%.1f\" text-anchor=\"middle\" class=\"axis\" transform=\"rotate(-90 12 %.1f)\">%@</text>",
                      top + plotHeight / 2, top + plotHeight / 2, Self.escape(yLabel))
        return svg
    }

    /// Names with their colours, in rows above the plot.
    private func legend() -> String {
        var svg = ""
        for (row, parts) in legendRows.enumerated() {
            var px = left + 8
            let py = 8 + Double(row) * 14
            for part in parts {
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%@\"/>", px, py, part.color)
                svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%@</text>", px + 14, py + 9, Self.escape(part.name))
                px += 22 + Double(part.name.count) * 6
            }
        }
        return svg
    }

    /// A value for a tooltip: three significant digits, no exponent for everyday sizes.
    static func value(_ v: Double) -> String {
        abs(v) >= 100 ? String(format: "%.0f", v) : String(format: "%.3g", v)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// An axis from 0 that people read at a glance: four to eight ticks a step of 1, 2 or 5
/// times a power of ten apart, the last at or just above the data.
struct Axis: Equatable {
    let step: Double
    let end: Double

    /// - Parameter integer: counts (batches, tiles): no step below 1.
    init(upTo value: Double, integer: Bool = false) {
        let v = value > 0 && value.isFinite ? value : 1
        let rough = v / 5, power = pow(10, floor(log10(rough)))
        var step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough * 0.999_999 } ?? 10 * power
        if integer { step = max(step, 1) }
        self.step = step
        end = max(step, (v / step - 1e-9).rounded(.up) * step)
    }

    var ticks: [Double] { (0...Int((end / step).rounded())).map { Double($0) * step } }

    /// A tick's label, with as many decimals as the step needs (0.5, 1, 1.5; never 0.12).
    func text(_ v: Double) -> String {
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }
}
