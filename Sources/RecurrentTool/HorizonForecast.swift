// `recurrent train --csv … --horizon N`: after training, forecasts N rows ahead from every
// validation origin by feeding each prediction back as the next input, scores each horizon step
// against persistence (repeating the last value), and plots the last origin's history, truth and
// forecast. O = forecast origins, N = horizon, W = window.
import Foundation
import RecurrentKit

/// Forecasts of a one-column series, N steps from every origin whose N next rows are known.
struct HorizonForecast {
    /// RMSE of step k + 1 over the origins, in the target's units.
    var rmse: [Double]
    /// The persistence baseline's RMSE of step k + 1 (the last value repeated).
    var persistenceRMSE: [Double]
    /// Origins scored.
    var origins: Int
    /// The last origin's rows: the history before it, the truth and the forecast after it, as
    /// (row index, value) in the target's units.
    var history: [(x: Double, y: Double)], truth: [(x: Double, y: Double)], forecast: [(x: Double, y: Double)]

    /// Runs `network` and `head` (trained on `windows` of the one-column `series`, scaled by
    /// `scaling`) from every origin of the validation part: the W rows before it are the history,
    /// the N rows from it the truth.
    init(network: RecurrentNetwork, head: Linear, series: CSVSeries, windows: CSVWindows, scaling: ColumnScaling,
         horizon: Int, on backend: any Backend) throws {
        let w = windows.window, rows = series.rows.count
        // Validation targets are rows trainingRows ..< rows; an origin needs N of them ahead.
        let first = windows.trainingRows, last = rows - horizon
        guard last >= first else {
            throw UserFacingError(description: "--horizon \(horizon) needs at least \(horizon) validation rows after the training ones; "
                                  + "\(series.source) has \(rows - first) (use a smaller --horizon or a larger --validation-fraction)")
        }
        let values = series.rows.map { $0[0] }
        let normalized = values.map { scaling.normalize($0, column: 0) }
        var squared = [Double](repeating: 0, count: horizon), persistence = [Double](repeating: 0, count: horizon)
        var lastForecast: [Double] = []
        let origins = Array(first...last)
        for start in stride(from: 0, to: origins.count, by: 256) {
            let batch = Array(origins[start..<min(start + 256, origins.count)])
            let history = batch.flatMap { normalized[($0 - w)..<$0] }                              // (O, W, 1)
            let input = try SequenceBatch(Tensor(shape: [batch.count, w, 1], values: history, on: backend), layout: .batchMajor)
            let predicted = try network.forecast(input, steps: horizon, head: head).toArray()      // (N, O, 1)
            for (column, origin) in batch.enumerated() {
                for step in 0..<horizon {
                    let value = scaling.denormalize(predicted[step * batch.count + column], column: 0)
                    let truth = values[origin + step]
                    squared[step] += (value - truth) * (value - truth)
                    persistence[step] += (values[origin - 1] - truth) * (values[origin - 1] - truth)
                    if origin == last { lastForecast.append(value) }
                }
            }
        }
        let n = Double(origins.count)
        rmse = squared.map { ($0 / n).squareRoot() }
        persistenceRMSE = persistence.map { ($0 / n).squareRoot() }
        self.origins = origins.count
        let context = max(first - 1, last - 3 * w)..<last
        history = context.map { (Double($0), values[$0]) }
        let anchor = (x: Double(last - 1), y: values[last - 1])                                    // lines start at the last known row
        truth = [anchor] + (0..<horizon).map { (Double(last + $0), values[last + $0]) }
        forecast = [anchor] + lastForecast.enumerated().map { (Double(last + $0.offset), $0.element) }
    }

    /// The table of RMSE per horizon step beside persistence.
    func tableLines(target: String) -> [String] {
        let rows = rmse.indices.map { k in
            [String(k + 1), String(format: "%.5g", rmse[k]), String(format: "%.5g", persistenceRMSE[k]),
             String(format: "%.2f", persistenceRMSE[k] / max(rmse[k], .leastNonzeroMagnitude))]
        }
        return table(header: ["step", "RMSE \"\(target)\"", "persistence RMSE", "persistence / model"], rows: rows)
    }

    /// History, truth and forecast of the last origin in one plot.
    func plot(target: String) -> LinePlot {
        var plot = LinePlot(title: "\(target): \(rmse.count)-step forecast from row \(Int(truth[0].x) + 1)", xLabel: "row", yLabel: target)
        plot.series = [.init(name: "history", points: history), .init(name: "truth", points: truth), .init(name: "forecast", points: forecast)]
        return plot
    }
}
