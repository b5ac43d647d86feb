// The learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks",
// 2017; fast.ai's lr_find): train one pass with the rate rising exponentially, smooth the loss,
// stop once it diverges, and suggest the rate where the smoothed loss falls fastest.
import Foundation

/// Runs the learning-rate range test on a trainer.
public struct LearningRateFinder: Sendable {
    /// The rate of the first step and the rate the last step would reach.
    public var startRate: Float, endRate: Float
    /// Steps of the test (nil: one pass over the data, as fast.ai's default of one epoch).
    public var steps: Int?
    /// Weight of the running average of the loss, bias-corrected (fast.ai: 0.98).
    public var smoothing: Double
    /// The test stops when the smoothed loss exceeds this multiple of its lowest value (fast.ai: 4).
    public var divergenceFactor: Double

    /// A range test from `startRate` to `endRate`; throws unless 0 < start < end, smoothing is in
    /// [0, 1), the divergence factor exceeds 1 and `steps` (when given) is at least 2.
    public init(startRate: Float = 1e-6, endRate: Float = 1, steps: Int? = nil, smoothing: Double = 0.98,
                divergenceFactor: Double = 4) throws {
        guard startRate > 0, endRate > startRate, smoothing >= 0, smoothing < 1, divergenceFactor > 1, (steps ?? 2) >= 2 else {
            throw RecurrentError.invalidArgument(
                name: "learning-rate range test", expected: "0 < start < end, smoothing in [0, 1), divergence factor > 1, steps ≥ 2",
                got: "start \(startRate), end \(endRate), smoothing \(smoothing), divergence factor \(divergenceFactor), steps \(steps.map(String.init) ?? "one pass")")
        }
        self.startRate = startRate; self.endRate = endRate; self.steps = steps
        self.smoothing = smoothing; self.divergenceFactor = divergenceFactor
    }

    /// What the test measured.
    public struct Result: Sendable {
        /// The rate of each step run, its loss and the smoothed loss.
        public var rates: [Float], losses: [Float], smoothedLosses: [Float]
        /// Whether the test stopped early because the loss diverged (or was not finite).
        public var diverged: Bool
        /// Index of the steepest descent of the smoothed loss against log(rate), and its rate: the suggestion.
        public var steepestIndex: Int
        /// The suggested learning rate: the rate at `steepestIndex`.
        public var suggestedRate: Float { rates[steepestIndex] }
        /// The rate at the lowest smoothed loss, over 10 (fast.ai's other rule of thumb).
        public var minimumOverTen: Float { rates[smoothedLosses.indices.min { smoothedLosses[$0] < smoothedLosses[$1] }!] / 10 }
    }

    /// Trains `trainer` (which it leaves changed: run it on a model you throw away) on batches of
    /// `data` in the seeded order of epoch 1, setting the rate of step k to
    /// start · (end / start)^(k / (n − 1)).
    public func run(_ trainer: Trainer, on data: SequenceDataset, batchSize: Int, shuffleSeed: UInt64 = 0) throws -> Result {
        let order = SequenceDataset.permutation(data.count, seed: shuffleSeed, stream: 1)
        let batches = stride(from: 0, to: data.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, data.count)]) }
        let n = steps ?? batches.count
        guard n >= 2 else {
            throw RecurrentError.invalidArgument(name: "learning-rate range test", expected: "at least 2 batches",
                                                 got: "\(data.count) sequences in batches of \(batchSize)")
        }
        trainer.model.train()
        let policy = trainer.nonFinitePolicy
        trainer.nonFinitePolicy = .ignore   // a non-finite loss ends the test below
        defer { trainer.nonFinitePolicy = policy }
        var rates: [Float] = [], losses: [Float] = [], smoothed: [Float] = []
        var average = 0.0, lowest = Double.infinity, diverged = false
        let ratio = Double(endRate) / Double(startRate)
        for k in 0..<n {
            let rate = Float(Double(startRate) * pow(ratio, Double(k) / Double(n - 1)))
            trainer.optimizer.learningRate = rate
            let (input, target) = try data.upload(batches[k % batches.count], layout: trainer.batchLayout, on: trainer.backend)
            let loss = try trainer.trainStep(input: input, target: target).item()
            guard loss.isFinite else { diverged = true; break }
            average = smoothing * average + (1 - smoothing) * Double(loss)
            let value = average / (1 - pow(smoothing, Double(k + 1)))
            rates.append(rate); losses.append(loss); smoothed.append(Float(value))
            lowest = min(lowest, value)
            if k > 0 && value > divergenceFactor * lowest { diverged = true; break }
        }
        guard rates.count >= 3 else {
            throw RecurrentError.invalidArgument(name: "learning-rate range test", expected: "a loss that stays finite for 3 steps",
                                                 got: "divergence after \(rates.count) steps from rate \(startRate); start lower")
        }
        return Result(rates: rates, losses: losses, smoothedLosses: smoothed, diverged: diverged,
                      steepestIndex: Self.steepestDescent(rates: rates, losses: smoothed))
    }

    /// The index where d(loss)/d(log rate) is most negative, by central differences (one-sided at
    /// the ends), ignoring the first and last tenth of the curve where the average is still settling
    /// or already diverging.
    static func steepestDescent(rates: [Float], losses: [Float]) -> Int {
        let n = losses.count
        let x = rates.map { log(Double($0)) }, y = losses.map(Double.init)
        func slope(_ i: Int) -> Double {
            let (a, b) = (max(i - 1, 0), min(i + 1, n - 1))
            return (y[b] - y[a]) / (x[b] - x[a])
        }
        let skip = n >= 10 ? n / 10 : 0
        let range = skip..<(n - skip)
        return range.min { slope($0) < slope($1) } ?? 0
    }
}
