import Foundation
@testable import MGPRCommands
import Testing

/// The report's charts read at a glance: axes in steps of 1, 2 or 5 times a power of ten,
/// labels with the decimals the step needs, and a colour scale with the ends it names.
@Suite("Report charts")
struct ReportChartTests {
    @Test("an axis ends at or just above the data, in four to six ticks of a 1-2-5 step", arguments: [
        0.003, 0.12, 0.38, 0.99, 1, 1.01, 2, 3.7, 4.8, 4.99, 5.01, 12, 25, 38, 64.85, 99, 100, 101, 1234, 2e6,
    ])
    func niceAxis(value: Double) {
        let axis = Axis(upTo: value)
        let mantissa = axis.step / pow(10, floor(log10(axis.step)))
        #expect([1, 2, 5].contains { abs(mantissa - $0) < 1e-9 }, "step \(axis.step)")
        #expect(axis.end >= value * (1 - 1e-12) && axis.end < value + axis.step, "end \(axis.end) for \(value)")
        #expect((4...6).contains(axis.ticks.count), "\(axis.ticks)")
        // Every label says its tick exactly, with no more decimals than the step needs.
        for tick in axis.ticks {
            #expect(abs(Double(axis.text(tick))! - tick) < axis.step * 1e-6, "\(axis.text(tick)) for \(tick)")
        }
        let decimals = axis.text(axis.step).split(separator: ".").dropFirst().first?.count ?? 0
        #expect(decimals == max(0, Int(-floor(log10(axis.step) + 1e-9))))
    }

    @Test("the seen odd ticks are gone: 0.25 steps of 50 (12/25/38) become 10s, of 5 (1.2/3.8) become 1s")
    func seenTicks() {
        #expect(Axis(upTo: 38).ticks == [0, 10, 20, 30, 40])
        #expect(Axis(upTo: 4.8).ticks == [0, 1, 2, 3, 4, 5])
        #expect(Axis(upTo: 0.38).ticks.map(Axis(upTo: 0.38).text) == ["0.0", "0.1", "0.2", "0.3", "0.4"])
    }

    @Test("a count axis steps by whole numbers: one batch is 0 and 1, not quarters")
    func integerAxis() {
        #expect(Axis(upTo: 1, integer: true).ticks == [0, 1])
        #expect(Axis(upTo: 4, integer: true).ticks == [0, 1, 2, 3, 4])
        #expect(Axis(upTo: 120, integer: true).ticks == [0, 50, 100, 150])
    }

    @Test("the detections scale runs from viridis' dark purple to its yellow, brightening all the way")
    func viridis() {
        #expect(TileMap.viridis(0).css == "#440154" && TileMap.viridis(1).css == "#fde725" && TileMap.viridis(0.5).css == "#21918c")
        // Perceived lightness (Rec. 709 luma) rises with the count: no two counts look alike.
        func luma(_ c: TileMap.Color) -> Double {
            let (r, g, b) = (Double(c.r), Double(c.g), Double(c.b))
            return 0.2126 * r + 0.7152 * g + 0.0722 * b
        }
        let lumas: [Double] = stride(from: 0.0, through: 1, by: 0.05).map { luma(TileMap.viridis($0)) }
        #expect(zip(lumas, lumas.dropFirst()).allSatisfy { $0 < $1 }, "\(lumas)")
    }
}
