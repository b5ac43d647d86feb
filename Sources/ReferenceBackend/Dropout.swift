// Reference inverted dropout with Philox masks, and zoneout's factors from the same draws.
// e = element index within the tensor; the Philox index of element e is offset + e.

import RecurrentCore

extension ReferenceBackend {
    /// `mask[e] = keep ? 1/(1 − p) : 0`, `y = x ⊙ mask`, where element e is kept when
    /// `Philox.word(seed, stream, offset + e) >> 8 >= Philox.dropThreshold(p)`.
    public func dropoutForward(_ y: Tensor, mask: Tensor, _ x: Tensor, probability: Float,
                               seed: UInt64, stream: UInt64, offset: UInt64) throws {
        try RecurrentError.check("dropoutForward mask vs x", count: mask.count, equals: x.count)
        try RecurrentError.check("dropoutForward y vs x", count: y.count, equals: x.count)
        guard probability >= 0, probability <= 1 else {
            throw RecurrentError.invalidArgument(name: "dropout probability", expected: "a value in [0, 1]",
                                                 got: "\(probability)")
        }
        let threshold = Philox.dropThreshold(probability: probability)
        let keepScale = 1 / (1 - probability)
        let xv = try read(x, "dropoutForward x")
        var maskValues = [Float](repeating: 0, count: xv.count)
        for e in 0..<xv.count {
            let word = Philox.word(seed: seed, stream: stream, index: offset &+ UInt64(e))
            maskValues[e] = word >> 8 >= threshold ? keepScale : 0
        }
        try write(maskValues, to: mask, "dropoutForward mask")
        try write((0..<xv.count).map { xv[$0] * maskValues[$0] }, to: y, "dropoutForward y")
    }

    /// `d[e] = 1` where element e is dropped (`Philox.word(seed, stream, offset + e) >> 8 < Philox.dropThreshold(p)`), else 0.
    public func dropIndicator(_ d: Tensor, probability: Float, seed: UInt64, stream: UInt64, offset: UInt64) throws {
        guard probability >= 0, probability < 1 else {
            throw RecurrentError.invalidArgument(name: "zoneout probability", expected: "a value in [0, 1)", got: "\(probability)")
        }
        let threshold = Philox.dropThreshold(probability: probability)
        let values: [Float] = (0..<d.count).map { e in
            Philox.word(seed: seed, stream: stream, index: offset &+ UInt64(e)) >> 8 < threshold ? 1 : 0
        }
        try write(values, to: d, "dropIndicator d")
    }
}
