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
