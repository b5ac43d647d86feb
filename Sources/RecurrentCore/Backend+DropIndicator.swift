// Zoneout's factors from the dropout op: d = 1 where dropout drops, else 0 (Backend.dropIndicator),
// for backends without a kernel of their own. N = elements.

extension Backend {
    public func dropIndicator(_ d: Tensor, probability: Float, seed: UInt64, stream: UInt64, offset: UInt64) throws {
        // Dropout on ones leaves 0 (dropped) or 1/(1−p) ≥ 1 in its mask: clamped to 1 and flipped, 1 where dropped.
        let ones = try Tensor.zeros(d.shape, on: self, value: 1)                    // (N)
        try dropoutForward(Tensor.empty(d.shape, on: self), mask: d, ones, probability: probability, seed: seed, stream: stream,
                           offset: offset)
        try clamp(d, low: 0, high: 1)
        try scale(d, by: -1)
        try axpy(d, alpha: 1, ones)
    }
}
