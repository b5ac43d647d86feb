// Training progress: a live bar with loss, throughput and ETA on a terminal; one plain line per
// epoch otherwise (CI logs, pipes).
import Foundation
import RecurrentKit

/// Reports `Trainer.fit` progress on standard output.
final class ProgressReporter {
    /// Whether to draw a live bar (standard output is a terminal).
    let live: Bool
    let totalEpochs: Int
    private let started = Date()
    private var lastDraw = Date.distantPast
    private var runningLoss: Float?
    /// The epoch with the lowest validation loss so far, with its report.
    private(set) var best: EpochReport?

    /// - Parameters:
    ///   - totalEpochs: Epochs the run will train (for the ETA).
    ///   - live: Draw a bar; by default when standard output is a terminal.
    init(totalEpochs: Int, live: Bool = isatty(STDOUT_FILENO) == 1) {
        self.totalEpochs = totalEpochs
        self.live = live
    }

    /// After each batch: redraws the bar at most ten times a second (reading the loss costs one
    /// device-to-host copy, so only when drawing).
    func batch(_ p: BatchProgress) {
        guard live, Date().timeIntervalSince(lastDraw) > 0.1 || p.batch == p.batchesPerEpoch else { return }
        lastDraw = Date()
        if let loss = try? p.loss.item() { runningLoss = runningLoss.map { 0.9 * $0 + 0.1 * loss } ?? loss }
        let fraction = Double(p.batch) / Double(max(p.batchesPerEpoch, 1))
        let done = (Double(p.epoch - 1) + fraction) / Double(max(totalEpochs, 1))
        let elapsed = Date().timeIntervalSince(started)
        let eta = done > 0 ? elapsed * (1 - done) / done : 0
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "epoch %d/%d %@ %d/%d  loss %.4f  %.0f seq/s  ETA %@",
                          p.epoch, totalEpochs, bar, p.batch, p.batchesPerEpoch, runningLoss ?? .nan,
                          Double(p.sequences) / max(p.seconds, 1e-9), Self.duration(eta))
        FileHandle.standardOutput.write(("\r\u{1B}[2K" + line).data(using: .utf8)!)
    }

    /// After each epoch: one line (replacing the bar on a terminal) with the train/validation gap
    /// (validation − train: growing while the training loss falls is overfitting), "best" on the
    /// epoch whose validation loss is the lowest so far.
    func epoch(_ r: EpochReport, extra: String = "") {
        if live { FileHandle.standardOutput.write("\r\u{1B}[2K".data(using: .utf8)!) }
        var line = String(format: "epoch %3d/%d  train loss %.5f", r.epoch, totalEpochs, r.trainLoss)
        var isBest = false
        if let v = r.validationLoss {
            line += String(format: "  validation loss %.5f  gap %+.5f", v, v - r.trainLoss)
            if v.isFinite, v < best?.validationLoss ?? .infinity { best = r; isBest = true }
        }
        line += String(format: "  lr %.3g  %.0f seq/s  %.1f s", r.learningRate, r.sequencesPerSecond, r.seconds)
        print(line + extra + (isBest ? "  best" : ""))
        fflush(nil)   // reach logs and pipes now, not when the buffer fills
    }

    /// "best epoch 7: validation loss 0.01234 (train 0.01001, gap +0.00233)", or nil without validation.
    var bestSummary: String? {
        guard let b = best, let v = b.validationLoss else { return nil }
        return String(format: "best epoch %d: validation loss %.5f (train %.5f, gap %+.5f)", b.epoch, v, b.trainLoss, v - b.trainLoss)
    }

    /// "1m05s"-style durations.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
    }
}
