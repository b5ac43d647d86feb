// The reference's parameter-gradient sums over steps and rows, and their term magnitudes.

import RecurrentCore

/// One parameter gradient's sums of products over every step and row, kept in Double:
/// Σ a·b per element, or with `magnitudes` Σ |a·b|.
///
/// Σ |a·b| is the scale of the rounding any float sum of the same terms carries: a backend that
/// rounds each term (and each partial sum) to float lands within a few units of 2⁻²⁴ · Σ |a·b| of
/// the exact sum, whatever its order, while Σ a·b itself may cancel to far less than its terms.
struct GradientSums {
    /// The sums, one per element of the gradient.
    private(set) var values: [Double]
    /// Whether `add` sums magnitudes.
    let magnitudes: Bool

    /// `count` sums at zero.
    init(count: Int, magnitudes: Bool) {
        values = [Double](repeating: 0, count: count)
        self.magnitudes = magnitudes
    }

    /// Adds a·b (or |a·b|) to element `index`.
    mutating func add(_ index: Int, _ a: Float, _ b: Float = 1) {
        let term = Double(a) * Double(b)
        values[index] += magnitudes ? abs(term) : term
    }
}

extension ReferenceBackend {
    /// Writes each parameter gradient's sums into its tensor, which they accumulate into:
    /// `tensor += Σ` for the gradients themselves, `tensor = |tensor| + Σ |term|` for their
    /// magnitudes (the value it held is the sum's first term).
    func writeGradientSums(_ sums: [(Tensor, GradientSums)], _ what: String) throws {
        for (tensor, sum) in sums {
            let old = try read(tensor, what)
            let values = (0..<old.count).map { sum.magnitudes ? abs(old[$0]) + Float(sum.values[$0]) : old[$0] + Float(sum.values[$0]) }
            try write(values, to: tensor, what)
        }
    }
}
