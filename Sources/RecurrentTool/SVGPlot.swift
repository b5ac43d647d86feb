// Line and scatter plots written as hand-made SVG: loss curves, gradient norms, learning-rate
// range tests, sweeps. Ticks come from AxisTicks (nice numbers, decades on log axes), colours
// from the Okabe–Ito palette (distinct for colour-blind readers, with a dash pattern per line
// as a second cue), and the legend sits beside the plot area, never over a line.
import Foundation
import RecurrentKit

/// A plot of one or more series over a shared x axis, written as a standalone SVG file.
struct LinePlot {
    /// One named line (or set of points).
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        /// Draw markers only, no connecting line (sweeps: one point per trial).
        var pointsOnly = false
        /// The palette entry (default: the series' index), so that related series can share a colour.
        var colorIndex: Int? = nil
        /// The dash pattern ("" solid; default: the one of the series' index).
        var dash: String? = nil
    }

    /// A labelled vertical line across the plot area (the suggested learning rate, the best epoch).
    struct Marker {
        var x: Double
        var label: String
    }

    var title: String
    var xLabel: String
    var yLabel: String
    /// Plot y on a base-10 logarithmic axis (non-positive values are left out).
    var logarithmicY = false
    /// Plot x on a base-10 logarithmic axis (non-positive values are left out).
    var logarithmicX = false
    /// x counts something (epochs, steps): ticks at whole numbers only.
    var integerX = false
    /// x is the index of one of these names (a categorical axis: `cell` in a sweep).
    var xCategories: [String]? = nil
    var series: [Series] = []
    var markers: [Marker] = []
    /// Draw the legend beside the plot area (a panel of one series goes without).
    var showsLegend = true

    /// Okabe & Ito's palette (2008), which stays distinct under the common colour-vision deficiencies.
    static let colors = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000"]
    /// A second cue beside colour: solid, dashed, dotted, dash-dot …
    static let dashes = ["", "7 4", "2 3", "8 3 2 3", "12 4", "4 2 4 6"]
    private static let (width, height) = (720.0, 440.0)
    private static let (left, right, top, bottom) = (80.0, 180.0, 40.0, 60.0)

    /// The ticks of the x and y axes for the data (what the SVG draws; tests read them).
    func axes() -> (x: AxisTicks, y: AxisTicks) {
        let points = series.flatMap(\.points).filter { p in
            p.x.isFinite && p.y.isFinite && (!logarithmicX || p.x > 0) && (!logarithmicY || p.y > 0)
        }
        let xs = points.map(\.x) + markers.map(\.x).filter { $0.isFinite && (!logarithmicX || $0 > 0) }
        let ys = points.map(\.y)
        let x: AxisTicks
        if let categories = xCategories, !categories.isEmpty {
            let indices = categories.indices.map(Double.init)
            x = AxisTicks(lower: -0.5, upper: Double(categories.count) - 0.5, major: indices, labels: categories)
        } else {
            x = Self.ticks(xs, logarithmic: logarithmicX, integers: integerX)
        }
        return (x, Self.ticks(ys, logarithmic: logarithmicY, integers: false))
    }

    private static func ticks(_ values: [Double], logarithmic: Bool, integers: Bool) -> AxisTicks {
        let low = values.min() ?? (logarithmic ? 1 : 0), high = values.max() ?? (logarithmic ? 10 : 1)
        return logarithmic ? AxisTicks.logarithmic(low, high) : AxisTicks.linear(low, high, integers: integers)
    }

    /// The SVG document.
    func svg() -> String {
        Self.document(width: Self.width, height: Self.height,
                      elements(x: 0, y: 0, width: Self.width, height: Self.height, right: showsLegend ? Self.right : 30))
    }

    /// A standalone SVG document of `width` × `height` holding `elements`.
    static func document(width: Double, height: Double, _ elements: [String]) -> String {
        ([##"<?xml version="1.0" encoding="UTF-8"?>"##,
          ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" "##
          + ##"viewBox="0 0 \##(Int(width)) \##(Int(height))" font-family="sans-serif" font-size="12">"##,
          ##"<rect width="100%" height="100%" fill="white"/>"##] + elements + ["</svg>"]).joined(separator: "\n") + "\n"
    }

    /// The plot's SVG elements inside the box at (`originX`, `originY`) of `width` × `height`,
    /// `right` of it left for the legend.
    func elements(x originX: Double, y originY: Double, width: Double, height: Double, right: Double) -> [String] {
        let (xAxis, yAxis) = axes()
        let left = originX + Self.left, top = originY + Self.top
        let plotW = width - Self.left - right, plotH = height - Self.top - Self.bottom
        func position(_ v: Double, _ axis: AxisTicks, _ logarithmic: Bool) -> Double? {
            guard v.isFinite, !logarithmic || v > 0 else { return nil }
            return logarithmic ? (log10(v) - log10(axis.lower)) / (log10(axis.upper) - log10(axis.lower))
                               : (v - axis.lower) / (axis.upper - axis.lower)
        }
        func px(_ x: Double) -> Double? { position(x, xAxis, logarithmicX).map { left + $0 * plotW } }
        func py(_ y: Double) -> Double? { position(y, yAxis, logarithmicY).map { top + (1 - $0) * plotH } }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        let (x0, x1, y0, y1) = (left, left + plotW, top, top + plotH)

        var out = [##"<text x="\##(f(left + plotW / 2))" y="\##(f(originY + 24))" text-anchor="middle" font-size="15">\##(Self.escape(title))</text>"##]
        // Grid and ticks: major ticks labelled with a grid line, minor ticks short and unlabelled.
        for (v, label) in zip(xAxis.major, xAxis.labels) {
            guard let x = px(v) else { continue }
            out.append(##"<line x1="\##(f(x))" y1="\##(f(y0))" x2="\##(f(x))" y2="\##(f(y1))" stroke="#e6e6e6"/>"##)
            out.append(##"<line x1="\##(f(x))" y1="\##(f(y1))" x2="\##(f(x))" y2="\##(f(y1 + 5))" stroke="#444"/>"##)
            out.append(##"<text x="\##(f(x))" y="\##(f(y1 + 18))" text-anchor="middle">\##(Self.escape(label))</text>"##)
        }
        for v in xAxis.minor { if let x = px(v) {
            out.append(##"<line x1="\##(f(x))" y1="\##(f(y1))" x2="\##(f(x))" y2="\##(f(y1 + 3))" stroke="#444"/>"##)
        } }
        for (v, label) in zip(yAxis.major, yAxis.labels) {
            guard let y = py(v) else { continue }
            out.append(##"<line x1="\##(f(x0))" y1="\##(f(y))" x2="\##(f(x1))" y2="\##(f(y))" stroke="#e6e6e6"/>"##)
            out.append(##"<line x1="\##(f(x0 - 5))" y1="\##(f(y))" x2="\##(f(x0))" y2="\##(f(y))" stroke="#444"/>"##)
            out.append(##"<text x="\##(f(x0 - 8))" y="\##(f(y + 4))" text-anchor="end">\##(Self.escape(label))</text>"##)
        }
        for v in yAxis.minor { if let y = py(v) {
            out.append(##"<line x1="\##(f(x0 - 3))" y1="\##(f(y))" x2="\##(f(x0))" y2="\##(f(y))" stroke="#444"/>"##)
        } }
        out.append(##"<rect x="\##(f(x0))" y="\##(f(y0))" width="\##(f(plotW))" height="\##(f(plotH))" fill="none" stroke="#444"/>"##)
        out.append(##"<text x="\##(f(left + plotW / 2))" y="\##(f(originY + height - 16))" text-anchor="middle">"##
                   + Self.escape(xLabel + (logarithmicX ? " (log scale)" : "")) + "</text>")
        let yLabelX = originX + 18
        out.append(##"<text x="\##(f(yLabelX))" y="\##(f(top + plotH / 2))" text-anchor="middle" transform="rotate(-90 \##(f(yLabelX)) \##(f(top + plotH / 2)))">"##
                   + Self.escape(yLabel + (logarithmicY ? " (log scale)" : "")) + "</text>")
        // Lines, then markers, then the legend beside the plot area.
        for (k, s) in series.enumerated() {
            let color = Self.colors[(s.colorIndex ?? k) % Self.colors.count], dash = s.dash ?? Self.dashes[k % Self.dashes.count]
            let xy = s.points.compactMap { p -> (Double, Double)? in
                guard let x = px(p.x), let y = py(p.y) else { return nil }
                return (x, y)
            }
            if xy.count > 1 && !s.pointsOnly {
                let dashAttribute = dash.isEmpty ? "" : ##" stroke-dasharray="\##(dash)""##
                out.append(##"<polyline fill="none" stroke="\##(color)" stroke-width="2"\##(dashAttribute) points="\##(xy.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))"/>"##)
            } else {
                for (x, y) in xy { out.append(##"<circle cx="\##(f(x))" cy="\##(f(y))" r="3.5" fill="\##(color)"/>"##) }
            }
        }
        for (k, marker) in markers.enumerated() {
            guard let x = px(marker.x) else { continue }
            out.append(##"<line x1="\##(f(x))" y1="\##(f(y0))" x2="\##(f(x))" y2="\##(f(y1))" stroke="#555" stroke-width="1.5" stroke-dasharray="4 3"/>"##)
            out.append(##"<text x="\##(f(x + 4))" y="\##(f(y0 + 14 + Double(k) * 14))" fill="#333">\##(Self.escape(marker.label))</text>"##)
        }
        let legendX = x1 + 14
        for (k, s) in series.enumerated() where showsLegend {
            let color = Self.colors[(s.colorIndex ?? k) % Self.colors.count], dash = s.dash ?? Self.dashes[k % Self.dashes.count]
            let ly = top + 14 + Double(k) * 20
            if s.pointsOnly {
                out.append(##"<circle cx="\##(f(legendX + 12))" cy="\##(f(ly - 4))" r="3.5" fill="\##(color)"/>"##)
            } else {
                let dashAttribute = dash.isEmpty ? "" : ##" stroke-dasharray="\##(dash)""##
                out.append(##"<line x1="\##(f(legendX))" y1="\##(f(ly - 4))" x2="\##(f(legendX + 24))" y2="\##(f(ly - 4))" "##
                           + ##"stroke="\##(color)" stroke-width="2"\##(dashAttribute)/>"##)
            }
            out.append(##"<text x="\##(f(legendX + 30))" y="\##(f(ly))">\##(Self.escape(s.name))</text>"##)
        }
        return out
    }

    /// Writes the SVG to `url` atomically.
    func write(to url: URL) throws {
        try AtomicFile.write(Data(svg().utf8), to: url)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension LinePlot {
    /// Train and validation loss per epoch on a log axis, the epoch of the lowest validation loss marked.
    static func lossCurves(_ epochs: [(epoch: Int, train: Float, validation: Float?)], title: String) -> LinePlot {
        var plot = LinePlot(title: title, xLabel: "epoch", yLabel: "loss", logarithmicY: true, integerX: true)
        plot.series.append(Series(name: "train", points: epochs.map { (Double($0.epoch), Double($0.train)) }))
        let validation = epochs.compactMap { e in e.validation.map { (x: Double(e.epoch), y: Double($0)) } }
        if !validation.isEmpty {
            plot.series.append(Series(name: "validation", points: validation))
            if let best = validation.filter({ $0.y.isFinite }).min(by: { $0.y < $1.y }) {
                plot.markers.append(Marker(x: best.x, label: "best epoch \(Int(best.x))"))
            }
        }
        return plot
    }

    /// The curves of a run's reports.
    static func lossCurves(_ reports: [EpochReport], title: String) -> LinePlot {
        lossCurves(reports.map { ($0.epoch, $0.trainLoss, $0.validationLoss) }, title: title)
    }
}
