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
        // Large draws split into one run of whole blocks (4 elements) per core; element e's word
        // depends only on offset + e, so the split changes no bit.
        let parts = n >= 1 << 16 ? coreCount : 1
        let (y, m, x) = (SendablePointer(py), SendablePointer(pm), SendablePointer(px))
        try runConcurrently(parts) { part in
            let first = n / 4 * part / parts * 4, end = part + 1 == parts ? n : n / 4 * (part + 1) / parts * 4
            rk_dropout_forward(y.pointer + first, m.pointer + first, x.pointer + first, end - first,
                               seed, stream, offset &+ UInt64(first), threshold, keepScale)
        }
    }
}
