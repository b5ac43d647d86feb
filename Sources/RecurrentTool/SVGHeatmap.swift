// A heatmap of attention weights written as hand-made SVG: one row per output step, one column
// per source step, each cell shaded by its weight (white 0 to dark blue 1) with the weight
// printed in it; the rows' and columns' tokens label the axes.
import Foundation
import RecurrentKit

/// A matrix of weights in [0, 1] with labelled rows and columns, as a standalone SVG file.
struct Heatmap {
    var title: String
    /// What the rows and the columns are (axis titles).
    var rowTitle: String, columnTitle: String
    /// One label per row and per column.
    var rowLabels: [String], columnLabels: [String]
    /// `values[row][column]`, each row as long as `columnLabels`.
    var values: [[Float]]

    private static let cell = 44.0
    private static let (left, top, right, bottom) = (90.0, 70.0, 30.0, 30.0)

    /// The SVG document. Every cell is a `rect` carrying its weight in `data-weight`.
    func svg() -> String {
        let width = Self.left + Double(columnLabels.count) * Self.cell + Self.right
        let height = Self.top + Double(rowLabels.count) * Self.cell + Self.bottom
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = [##"<?xml version="1.0" encoding="UTF-8"?>"##,
                   ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" "##
                       + ##"font-family="sans-serif" font-size="12">"##,
                   ##"<rect width="100%" height="100%" fill="white"/>"##,
                   ##"<text x="\##(f(width / 2))" y="20" text-anchor="middle" font-size="15">\##(LinePlot.escape(title))</text>"##,
                   ##"<text x="\##(f(Self.left + Double(columnLabels.count) * Self.cell / 2))" y="40" text-anchor="middle">"##
                       + LinePlot.escape(columnTitle) + "</text>",
                   ##"<text x="16" y="\##(f(Self.top + Double(rowLabels.count) * Self.cell / 2))" text-anchor="middle" "##
                       + ##"transform="rotate(-90 16 \##(f(Self.top + Double(rowLabels.count) * Self.cell / 2)))">"##
                       + LinePlot.escape(rowTitle) + "</text>"]
        for (c, label) in columnLabels.enumerated() {
            out.append(##"<text x="\##(f(Self.left + (Double(c) + 0.5) * Self.cell))" y="\##(f(Self.top - 8))" text-anchor="middle">"##
                       + LinePlot.escape(label) + "</text>")
        }
        for (r, label) in rowLabels.enumerated() {
            let y = Self.top + Double(r) * Self.cell
            out.append(##"<text x="\##(f(Self.left - 8))" y="\##(f(y + Self.cell / 2 + 4))" text-anchor="end">"## + LinePlot.escape(label) + "</text>")
            for (c, value) in values[r].enumerated() {
                let x = Self.left + Double(c) * Self.cell
                let v = Double(min(max(value, 0), 1))
                // White to #08306B (dark blue) by the weight; the printed number turns white on dark cells.
                let (red, green, blue) = (255 - v * (255 - 8), 255 - v * (255 - 48), 255 - v * (255 - 107))
                out.append(##"<rect x="\##(f(x))" y="\##(f(y))" width="\##(f(Self.cell))" height="\##(f(Self.cell))" "##
                           + ##"fill="rgb(\##(Int(red)),\##(Int(green)),\##(Int(blue)))" stroke="#ddd" "##
                           + ##"data-weight="\##(String(format: "%.6f", value))"/>"##)
                out.append(##"<text x="\##(f(x + Self.cell / 2))" y="\##(f(y + Self.cell / 2 + 4))" text-anchor="middle" "##
                           + ##"font-size="10" fill="\##(v > 0.5 ? "white" : "#333")">\##(String(format: "%.2f", value))</text>"##)
            }
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// Writes the SVG to `url` atomically.
    func write(to url: URL) throws {
        try AtomicFile.write(Data(svg().utf8), to: url)
    }
}
