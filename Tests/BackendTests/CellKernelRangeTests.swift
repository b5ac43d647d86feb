// The CPU cell kernels over the whole float range against the reference: pre-activations and
// states at ±0, tiny, ordinary, past the exp clamps (±88), huge and infinite values, and NaN, which
// must come out NaN wherever the reference's does. Whichever kernel build the CPU runs
// (RECURRENT_CPU_ISA=avx2 / portable pick the others). B = batch, H = hidden size.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

@Suite(.enabled(if: TestDevice.backend is CPUBackend, "the device under test is not the CPU"))
struct CellKernelRangeTests {
    /// Inputs across the range; H = 19 puts them at every lane of a full vector and of a partial one.
    static let specials: [Float] = [
        0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 0.3, -0.3, 0.6249, -0.6251, 1, -1, 4.5, -4.5, 9, -9, 20, -20,
        44, -44, 87.3, -87.4, 88.4, -88.4, 89, -89, 1e30, -1e30, .infinity, -.infinity, .nan,
    ]

    /// `count` inputs cycling through `specials`, starting at `offset`.
    static func values(_ count: Int, offset: Int) -> [Float] {
        (0..<count).map { specials[($0 + offset) % specials.count] }
    }

    @Test(arguments: [1, 19])
    func lstmForwardAcrossRange(h: Int) throws {
        let b = 3
        let hidden = try Twin([b, h], filledWith: .nan), cell = try Twin([b, h], filledWith: .nan)
        let gates = try Twin([b, 4 * h], Self.values(b * 4 * h, offset: 0))
        let projection = try Twin([b, 4 * h], filledWith: 0)
        let biasIH = try Twin([4 * h], filledWith: 0), biasHH = try Twin([4 * h], filledWith: 0)
        // The previous cell state at other specials, so that tanh(c_t) sees large and infinite states too.
        let previous = try Twin([b, h], Self.values(b * h, offset: 7))
        try onBoth { backend, side in
            try backend.lstmForwardStep(hidden: hidden[side], cell: cell[side], gates: gates[side],
                                        hiddenProjection: projection[side], biasIH: biasIH[side], biasHH: biasHH[side],
                                        previousCell: previous[side])
        }
        try gates.expectClose("lstm forward across the range H \(h) gates")
        try cell.expectClose("lstm forward across the range H \(h) cell")
        try hidden.expectClose("lstm forward across the range H \(h) hidden")
    }

    @Test(arguments: [1, 19])
    func gruForwardAcrossRange(h: Int) throws {
        let b = 3
        let hidden = try Twin([b, h], filledWith: .nan), newGateHidden = try Twin([b, h], filledWith: .nan)
        let gates = try Twin([b, 3 * h], Self.values(b * 3 * h, offset: 3))
        // W_hn h_{t-1} ordinary: an infinite one times r = σ(−∞ < x ≪ −88) is 0 · ∞ in the reference
        // (exp overflows), a large finite product in the clamped kernels.
        var random = TestRandom(seed: 86, stream: UInt64(h))
        let projection = try Twin([b, 3 * h], &random, low: -2, high: 2)
        let biasIH = try Twin([3 * h], filledWith: 0), biasHH = try Twin([3 * h], filledWith: 0)
        // h_{t-1} finite (or NaN): with z = σ(x ≪ −88), z · ±∞ is 0 · ∞ in the reference, ±∞ in the kernels.
        let previous = try Twin([b, h], Self.values(b * h, offset: 5).map { $0.isInfinite ? 0.5 : $0 })
        try onBoth { backend, side in
            try backend.gruForwardStep(hidden: hidden[side], newGateHidden: newGateHidden[side], gates: gates[side],
                                       hiddenProjection: projection[side], biasIH: biasIH[side], biasHH: biasHH[side],
                                       previousHidden: previous[side])
        }
        try gates.expectClose("gru forward across the range H \(h) gates")
        try newGateHidden.expectClose("gru forward across the range H \(h) newGateHidden")
        try hidden.expectClose("gru forward across the range H \(h) hidden")
    }

    @Test(arguments: [1, 19])
    func rnnTanhAndLSTMBackwardAcrossRange(h: Int) throws {
        let b = 3
        let hidden = try Twin([b, h], filledWith: .nan)
        let gates = try Twin([b, h], Self.values(b * h, offset: 1))
        let projection = try Twin([b, h], filledWith: 0), bias = try Twin([h], filledWith: 0)
        try onBoth { backend, side in
            try backend.rnnForwardStep(hidden: hidden[side], gates: gates[side], hiddenProjection: projection[side],
                                       biasIH: bias[side], biasHH: bias[side], activation: .tanh)
        }
        try hidden.expectClose("rnn tanh across the range H \(h) hidden")

        // Backward's tanh(c_t) over the range; gates and incoming gradients ordinary, NaN where c_t is NaN.
        var random = TestRandom(seed: 85, stream: UInt64(h))
        let gradGates = try Twin([b, 4 * h], filledWith: .nan)
        let gradCell = try Twin([b, h], &random), gradHidden = try Twin([b, h], &random)
        let postGates = try Twin([b, 4 * h], &random, low: 0.05, high: 0.95)
        let cell = try Twin([b, h], Self.values(b * h, offset: 2)), previousCell = try Twin([b, h], &random)
        try onBoth { backend, side in
            try backend.lstmBackwardStep(gradGates: gradGates[side], gradCell: gradCell[side], gradHidden: gradHidden[side],
                                         gradOutput: nil, gates: postGates[side], cell: cell[side],
                                         previousCell: previousCell[side])
        }
        try gradGates.expectClose("lstm backward across the range H \(h) gradGates")
        try gradCell.expectClose("lstm backward across the range H \(h) gradCell")
    }
}
