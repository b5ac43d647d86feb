// Per-epoch metrics over the validation set: accuracy, MAE, RMSE, perplexity.
// B = batch, C = classes.
import Foundation

/// A quantity `Trainer.fit` measures on the validation set after every epoch; the report holds
/// it under "val_" + its name (`val_accuracy`, `val_mae`, `val_rmse`, `val_perplexity`), as Keras.
public enum Metric: String, Sendable, CaseIterable {
    /// Share of predictions whose arg-max class is the target class (targets −100 are not counted).
    case accuracy
    /// Mean absolute error of regression outputs.
    case meanAbsoluteError = "mae"
    /// Root mean squared error of regression outputs.
    case rootMeanSquaredError = "rmse"
    /// e^(mean cross-entropy): the validation loss read as perplexity (for cross-entropy losses).
    case perplexity

    /// The report's key.
    public var reportName: String { "val_" + rawValue }
}

/// Sums over batches for the prediction-based metrics.
struct MetricAccumulator {
    var correct = 0, counted = 0
    var absoluteSum = 0.0, squaredSum = 0.0, values = 0

    /// Adds a batch: predictions `prediction` (…, C) and targets (class indices when C > 1 for
    /// accuracy, values of the prediction's shape for MAE and RMSE).
    mutating func add(prediction: [Float], shape: [Int], target: [Float], metrics: [Metric]) throws {
        if metrics.contains(.accuracy) {
            let classes = shape.last ?? 1
            guard classes > 1, prediction.count == target.count * classes else {
                throw RecurrentError.invalidArgument(
                    name: "accuracy", expected: "class scores (…, C) with C > 1 and one class index per row",
                    got: "predictions of shape \(shape) and \(target.count) targets")
            }
            for (row, t) in target.enumerated() where t != -100 {
                let scores = prediction[(row * classes)..<((row + 1) * classes)]
                let best = scores.indices.max { scores[$0] < scores[$1] }! - row * classes
                correct += best == Int(t) ? 1 : 0
                counted += 1
            }
        }
        if metrics.contains(.meanAbsoluteError) || metrics.contains(.rootMeanSquaredError) {
            guard prediction.count == target.count else {
                throw RecurrentError.invalidArgument(name: "MAE and RMSE", expected: "one prediction per target value",
                                                     got: "predictions of shape \(shape) and \(target.count) targets")
            }
            for (p, t) in zip(prediction, target) {
                let d = Double(p) - Double(t)
                absoluteSum += abs(d)
                squaredSum += d * d
            }
            values += target.count
        }
    }

    /// The report entries, `loss` being the mean validation loss.
    func results(_ metrics: [Metric], loss: Float) -> [String: Float] {
        var out: [String: Float] = [:]
        for m in metrics {
            switch m {
            case .accuracy: out[m.reportName] = counted > 0 ? Float(correct) / Float(counted) : .nan
            case .meanAbsoluteError: out[m.reportName] = Float(absoluteSum / Double(max(values, 1)))
            case .rootMeanSquaredError: out[m.reportName] = Float((squaredSum / Double(max(values, 1))).squareRoot())
            case .perplexity: out[m.reportName] = Float(Foundation.exp(Double(loss)))
            }
        }
        return out
    }
}
