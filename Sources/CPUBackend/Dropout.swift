// Inverted dropout with masks from Philox4x32-10 (bit-identical on every backend): the C kernels
// of recurrent_random.h, one Philox block per four elements, vectorised, split across cores.
// N = elements.
import CRecurrentGEMM
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
        let (y, m, x) = (SendablePointer(py), SendablePointer(pm), SendablePointer(px))
        try splitPhiloxBlocks(n) { first, end in
            rk_dropout_forward(y.pointer + first, m.pointer + first, x.pointer + first, end - first,
                               seed, stream, offset &+ UInt64(first), threshold, keepScale)
        }
    }

    public func dropIndicator(_ d: Tensor, probability p: Float, seed: UInt64, stream: UInt64, offset: UInt64) throws {
        guard p >= 0, p < 1 else {
            throw RecurrentError.invalidArgument(name: "zoneout probability", expected: "a value in [0, 1)", got: "\(p)")
        }
        let n = d.count
        let pd = SendablePointer(try pointer(d, "dropIndicator d"))
        let threshold = Philox.dropThreshold(probability: p)
        try splitPhiloxBlocks(n) { first, end in
            rk_drop_indicator(pd.pointer + first, end - first, seed, stream, offset &+ UInt64(first), threshold)
        }
    }

    /// Runs `body(first, end)` over element ranges of a draw of `n`: one range per core from 2^16
    /// elements, else one. Every range but the last starts and ends on a whole Philox block (4
    /// elements); element e's word depends only on offset + e, so the split changes no bit.
    private func splitPhiloxBlocks(_ n: Int, _ body: @Sendable (_ first: Int, _ end: Int) -> Void) throws {
        let parts = n >= 1 << 16 ? coreCount : 1
        try runConcurrently(parts) { part in
            body(n / 4 * part / parts * 4, part + 1 == parts ? n : n / 4 * (part + 1) / parts * 4)
        }
    }
}
