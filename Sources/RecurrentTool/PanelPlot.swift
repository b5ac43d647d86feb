// Several LinePlots side by side in one SVG file, in rows of up to three panels under a shared
// title: a sweep's validation loss against each hyperparameter, one panel each.
import Foundation
import RecurrentKit

/// Panels (each a `LinePlot` with its own axes and ticks) laid out in a grid, written as one SVG.
struct PanelPlot {
    var title: String
    var panels: [LinePlot]
    /// Panels per row at most.
    var columns = 3
    static let (panelWidth, panelHeight, titleHeight) = (340.0, 300.0, 36.0)

    /// The SVG document.
    func svg() -> String {
        let perRow = max(1, min(columns, panels.count)), rows = (panels.count + perRow - 1) / perRow
        let width = Double(perRow) * Self.panelWidth, height = Self.titleHeight + Double(max(rows, 1)) * Self.panelHeight
        var out = [##"<text x="\##(String(format: "%.1f", width / 2))" y="24" text-anchor="middle" font-size="16">"##
                   + LinePlot.escape(title) + "</text>"]
        for (k, panel) in panels.enumerated() {
            out += panel.elements(x: Double(k % perRow) * Self.panelWidth, y: Self.titleHeight + Double(k / perRow) * Self.panelHeight,
                                  width: Self.panelWidth, height: Self.panelHeight, right: 20)
        }
        return LinePlot.document(width: width, height: height, out)
    }

    /// Writes the SVG to `url` atomically.
    func write(to url: URL) throws {
        try AtomicFile.write(Data(svg().utf8), to: url)
    }
}
