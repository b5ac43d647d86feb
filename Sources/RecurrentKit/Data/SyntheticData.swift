import Foundation

/// Data sets generated in code, for demos and tests.
public enum SyntheticData {
    /// Next-value forecasting on sine waves: each sample is `length` points of
    /// sin(ω·t + φ) with ω ∈ [0.1, 0.4) and φ ∈ [0, 2π) drawn per sample (so the model must
    /// infer the frequency from the window), plus Gaussian noise of `noise` std;
    /// the target is the clean next value, sin(ω·length + φ). Inputs (N, T, 1), targets (N, 1).
    public static func sineWaves(count: Int, length: Int, noise: Float = 0, seed: UInt64) throws -> SequenceDataset {
        var rng = PhiloxStream(seed: seed, stream: 0)
        var noiseRng = PhiloxStream(seed: seed, stream: 1)
        try HostMemory.check(bytes: HostMemory.product([count, length, MemoryLayout<Float>.stride]),
                             for: "\(count) sine waves of \(length) steps")
        var x: [Float] = [], y: [Float] = []
        x.reserveCapacity(count * length)
        for _ in 0..<count {
            let params = rng.uniform(count: 2, low: 0, high: 1)
            let omega = 0.1 + 0.3 * Double(params[0]), phase = 2 * Double.pi * Double(params[1])
            let jitter = noise > 0 ? noiseRng.normal(count: length, std: noise) : [Float](repeating: 0, count: length)
            for t in 0..<length { x.append(Float(sin(omega * Double(t) + phase)) + jitter[t]) }
            y.append(Float(sin(omega * Double(length) + phase)))
        }
        return try SequenceDataset(inputs: x, targets: y, count: count, sequenceLength: length, featureCount: 1,
                                   targetLayout: .perSequence([1]))
    }
}

extension SyntheticData {
    /// The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): each step carries a
    /// value uniform in [0, 1) and a marker; exactly two steps are marked, one in each half of the
    /// sequence, and the target is the sum of their values. Predicting the mean, 1, scores an MSE
    /// of 1/6 ≈ 0.167; beating it needs memory across up to `length` steps.
    /// Inputs (N, T, 2) = (value, marker), targets (N, 1).
    public static func addingProblem(count: Int, length: Int, seed: UInt64) throws -> SequenceDataset {
        guard length >= 2 else {
            throw RecurrentError.invalidArgument(name: "adding problem length", expected: "at least 2", got: "\(length)")
        }
        var values = PhiloxStream(seed: seed, stream: 10), positions = PhiloxStream(seed: seed, stream: 11)
        try HostMemory.check(bytes: HostMemory.product([count, length, 2, MemoryLayout<Float>.stride]),
                             for: "\(count) adding-problem sequences of \(length) steps")
        var x = [Float](repeating: 0, count: count * length * 2), y: [Float] = []
        y.reserveCapacity(count)
        let half = length / 2
        for n in 0..<count {
            let v = values.uniform(count: length, low: 0, high: 1)
            let first = Int(positions.nextWord() % UInt32(half))
            let second = half + Int(positions.nextWord() % UInt32(length - half))
            for t in 0..<length { x[(n * length + t) * 2] = v[t] }
            x[(n * length + first) * 2 + 1] = 1
            x[(n * length + second) * 2 + 1] = 1
            y.append(v[first] + v[second])
        }
        return try SequenceDataset(inputs: x, targets: y, count: count, sequenceLength: length, featureCount: 2,
                                   targetLayout: .perSequence([1]))
    }

    /// Symbols to remember in `copyMemory`.
    public static let copySymbolCount = 10
    /// Input categories of `copyMemory`: 0 blank, 1…8 symbols, 9 the delimiter (one-hot inputs).
    public static let copyInputCategories = 10
    /// Output classes of `copyMemory`: 0 blank, 1…8 symbols.
    public static let copyOutputClasses = 9

    /// The copy-memory task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): ten symbols
    /// from 1…8, then `delay` − 1 blanks, a delimiter, and ten blanks during which the model must
    /// repeat the ten symbols. Sequences have T = delay + 20 steps; the target is blank (0) at
    /// every step but the last ten. Guessing blanks and then uniformly scores a cross-entropy of
    /// 10·ln 8 / T. Inputs (N, T, 10) one-hot, targets (N, T) class indices 0…8.
    public static func copyMemory(count: Int, delay: Int, seed: UInt64) throws -> SequenceDataset {
        guard delay >= 1 else {
            throw RecurrentError.invalidArgument(name: "copy-memory delay", expected: "at least 1", got: "\(delay)")
        }
        let s = copySymbolCount, f = copyInputCategories
        let (t, overflow) = delay.addingReportingOverflow(2 * s)
        try HostMemory.check(bytes: overflow ? nil : HostMemory.product([count, t, f + 1, MemoryLayout<Float>.stride]),
                             for: "\(count) copy-memory sequences with a delay of \(delay) steps")
        var symbols = PhiloxStream(seed: seed, stream: 12)
        var x = [Float](repeating: 0, count: count * t * f), y = [Float](repeating: 0, count: count * t)
        for n in 0..<count {
            for step in 0..<t {
                let symbol: Int
                if step < s {
                    symbol = 1 + Int(symbols.nextWord() % 8)
                    y[n * t + (t - s + step)] = Float(symbol)
                } else {
                    symbol = step == s + delay - 1 ? 9 : 0
                }
                x[(n * t + step) * f + symbol] = 1
            }
        }
        return try SequenceDataset(inputs: x, targets: y, count: count, sequenceLength: t, featureCount: f,
                                   targetLayout: .perStep([]))
    }
}
