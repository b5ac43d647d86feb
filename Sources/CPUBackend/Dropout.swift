// Inverted dropout with masks from Philox4x32-10 (bit-identical on every backend).
import RecurrentCore

extension CPUBackend {
    public func dropoutForward(_ y: Tensor, mask: Tensor, _ x: Tensor, probability p: Float,
                               seed: UInt64, stream: UInt64, offset: UInt64) throws {
        guard p >= 0, p < 1 else {
            throw RecurrentError.invalidArgument(name: "dropout probability", expected: "a value in [0, 1)", got: "\(p)")
        }
        let n = x.count
        let py = try pointer(y, count: n, "dropout y"), pm = try pointer(mask, count: n, "dropout mask")
        let px = try pointer(x, "dropout x")
        let threshold = Philox.dropThreshold(probability: p)
        let keepScale = 1 / (1 - p)
        for e in 0..<n {
            let word = Philox.word(seed: seed, stream: stream, index: offset &+ UInt64(e))
            let m: Float = (word >> 8) >= threshold ? keepScale : 0
            pm[e] = m
            py[e] = px[e] * m
        }
    }
}
