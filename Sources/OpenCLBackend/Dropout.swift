// Inverted dropout, and zoneout's drop indicator, with Philox masks computed on the device
// (Kernels/dropout.cl), bit-identical with the CPU backend's.
import RecurrentCore

extension OpenCLBackend {
    public func dropoutForward(_ y: Tensor, mask: Tensor, _ x: Tensor, probability p: Float,
                               seed: UInt64, stream: UInt64, offset: UInt64) throws {
        guard p >= 0, p < 1 else {
            throw RecurrentError.invalidArgument(name: "dropout probability", expected: "a value in [0, 1)", got: "\(p)")
        }
        let n = x.count
        try RecurrentError.check("dropout y", count: y.count, equals: n)
        try RecurrentError.check("dropout mask", count: mask.count, equals: n)
        try launch(.dropoutForward, items: n,
                   [.tensor(y), .tensor(mask), .tensor(x), .count(n), .ulong(seed), .ulong(stream), .ulong(offset),
                    .uint(Philox.dropThreshold(probability: p)), .float(1 / (1 - p))])
    }

    /// Zoneout's factors in one launch: `d[e] = 1` where `dropoutForward` with the same draw drops
    /// element e, else 0 (the CPU's and the reference's bits).
    public func dropIndicator(_ d: Tensor, probability p: Float, seed: UInt64, stream: UInt64, offset: UInt64) throws {
        guard p >= 0, p < 1 else {
            throw RecurrentError.invalidArgument(name: "zoneout probability", expected: "a value in [0, 1)", got: "\(p)")
        }
        try launch(.dropIndicator, items: d.count,
                   [.tensor(d), .count(d.count), .ulong(seed), .ulong(stream), .ulong(offset),
                    .uint(Philox.dropThreshold(probability: p))])
    }

    /// `words[e] = Philox.word(seed, stream, offset + e)` computed on the device, read back: the
    /// raw stream, so tests can check it bit for bit against the Swift generator.
    public func philoxWords(count: Int, seed: UInt64, stream: UInt64, offset: UInt64) throws -> [UInt32] {
        let words = try Tensor.empty([count], on: self)           // (N) holding UInt32 bit patterns
        try launch(.philoxWords, items: count, [.tensor(words), .ulong(seed), .ulong(stream), .ulong(offset), .count(count)])
        return try words.toArray().map(\.bitPattern)
    }
}
