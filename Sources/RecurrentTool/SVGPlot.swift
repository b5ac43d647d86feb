// Line plots written as hand-made SVG: loss curves and gradient-norm curves.
import Foundation
import RecurrentKit

/// A line plot of one or more series over a shared x axis, written as a standalone SVG file.
struct LinePlot {
    /// One named line.
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    var title: String
    var xLabel: String
    var yLabel: String
    /// Plot y on a base-10 logarithmic axis (non-positive values are left out).
    var logarithmicY = false
    var series: [Series] = []

    private static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    private static let (width, height) = (720.0, 440.0)
    private static let (left, right, top, bottom) = (80.0, 170.0, 40.0, 60.0)

    /// The SVG document.
    func svg() -> String {
        let ty: (Double) -> Double? = { y in
            guard y.isFinite else { return nil }
            if logarithmicY { return y > 0 ? log10(y) : nil }
            return y
        }
        let points = series.flatMap { s in s.points.compactMap { p in ty(p.y).map { (p.x, $0) } } }
        var (xMin, xMax) = (points.map(\.0).min() ?? 0, points.map(\.0).max() ?? 1)
        var (yMin, yMax) = (points.map(\.1).min() ?? 0, points.map(\.1).max() ?? 1)
        if xMax <= xMin { xMax = xMin + 1 }
        if yMax <= yMin { (yMin, yMax) = (yMin - 0.5, yMax + 0.5) }
        if logarithmicY { (yMin, yMax) = (yMin.rounded(.down), yMax.rounded(.up)) }
        let plotW = Self.width - Self.left - Self.right, plotH = Self.height - Self.top - Self.bottom
        func px(_ x: Double) -> Double { Self.left + (x - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { Self.top + (1 - (y - yMin) / (yMax - yMin)) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out = [##"<?xml version="1.0" encoding="UTF-8"?>"##,
                   ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(Self.width))" height="\##(Int(Self.height))" "##
                   + ##"viewBox="0 0 \##(Int(Self.width)) \##(Int(Self.height))" font-family="sans-serif" font-size="12">"##,
                   ##"<rect width="100%" height="100%" fill="white"/>"##,
                   ##"<text x="\##(f(Self.left + plotW / 2))" y="24" text-anchor="middle" font-size="15">\##(escape(title))</text>"##]
        // Axes, ticks and grid.
        out.append(##"<rect x="\##(f(Self.left))" y="\##(f(Self.top))" width="\##(f(plotW))" height="\##(f(plotH))" fill="none" stroke="#444"/>"##)
        for k in 0...5 {
            let x = xMin + Double(k) / 5 * (xMax - xMin), y = yMin + Double(k) / 5 * (yMax - yMin)
            out.append(##"<line x1="\##(f(px(x)))" y1="\##(f(Self.top))" x2="\##(f(px(x)))" y2="\##(f(Self.top + plotH))" stroke="#eee"/>"##)
            out.append(##"<text x="\##(f(px(x)))" y="\##(f(Self.top + plotH + 18))" text-anchor="middle">\##(tick(x))</text>"##)
            out.append(##"<line x1="\##(f(Self.left))" y1="\##(f(py(y)))" x2="\##(f(Self.left + plotW))" y2="\##(f(py(y)))" stroke="#eee"/>"##)
            let label = logarithmicY ? "1e" + tick(y) : tick(y)
            out.append(##"<text x="\##(f(Self.left - 6))" y="\##(f(py(y) + 4))" text-anchor="end">\##(label)</text>"##)
        }
        out.append(##"<text x="\##(f(Self.left + plotW / 2))" y="\##(f(Self.height - 16))" text-anchor="middle">\##(escape(xLabel))</text>"##)
        out.append(##"<text x="18" y="\##(f(Self.top + plotH / 2))" text-anchor="middle" transform="rotate(-90 18 \##(f(Self.top + plotH / 2)))">"##
                   + escape(yLabel + (logarithmicY ? " (log scale)" : "")) + "</text>")
        // Lines and legend.
        for (k, s) in series.enumerated() {
            let color = Self.colors[k % Self.colors.count]
            let path = s.points.compactMap { p in ty(p.y).map { "\(f(px(p.x))),\(f(py($0)))" } }
            if path.count > 1 {
                out.append(##"<polyline fill="none" stroke="\##(color)" stroke-width="2" points="\##(path.joined(separator: " "))"/>"##)
            } else if let only = path.first {
                let xy = only.split(separator: ",")
                out.append(##"<circle cx="\##(xy[0])" cy="\##(xy[1])" r="3" fill="\##(color)"/>"##)
            }
            let ly = Self.top + 14 + Double(k) * 20
            out.append(##"<line x1="\##(f(Self.width - Self.right + 14))" y1="\##(f(ly - 4))" x2="\##(f(Self.width - Self.right + 38))" "##
                       + ##"y2="\##(f(ly - 4))" stroke="\##(color)" stroke-width="2"/>"##)
            out.append(##"<text x="\##(f(Self.width - Self.right + 44))" y="\##(f(ly))">\##(escape(s.name))</text>"##)
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// Writes the SVG to `url` atomically.
    func write(to url: URL) throws {
        try AtomicFile.write(Data(svg().utf8), to: url)
    }

    private func tick(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        return abs(v) >= 0.01 && abs(v) < 1e4 ? String(format: "%.3g", v) : String(format: "%.1e", v)
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension LinePlot {
    /// Train and validation loss per epoch.
    static func lossCurves(_ reports: [EpochReport], title: String) -> LinePlot {
        var plot = LinePlot(title: title, xLabel: "epoch", yLabel: "loss", logarithmicY: true)
        plot.series.append(Series(name: "train", points: reports.map { (Double($0.epoch), Double($0.trainLoss)) }))
        let validation = reports.compactMap { r in r.validationLoss.map { (Double(r.epoch), Double($0)) } }
        if !validation.isEmpty { plot.series.append(Series(name: "validation", points: validation)) }
        return plot
    }
}
