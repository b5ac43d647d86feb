// The fused backward step (rk_backward_step, recurrent_cells.c) over row chunks: with G·H past
// 16 384 gate gradients per row, a chunk is one row tile, so 19 rows run as two whole chunks and a
// short third. Its dh_{t-1} = dG W_hh (GRU: added to what is there; with recurrent dropout,
// mask ⊙ (dG W_hh)) against the cell kernels run on the whole block and the product summed in
// Double; its gate gradients bit for bit against those kernels'. K = 3 keeps W_hh small; H is not
// a multiple of 16 for GRU and RNN. Runs where the fused steps do (AVX2/FMA; AVX-512 tiles too).
// B = rows, H = hidden size, G = gates, K = width of h_{t-1}.

import CRecurrentGEMM
import Foundation
import Testing

@Suite(.enabled(if: rk_packed_gemm_available() != 0, "no AVX2/FMA: the fused steps do not run"))
struct BackwardStepChunkTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let cell: Int32, hidden: Int, masked: Bool
        var gates: Int { cell == Int32(RK_CELL_LSTM) ? 4 : cell == Int32(RK_CELL_GRU) ? 3 : 1 }
        var testDescription: String { "cell \(cell) H \(hidden)\(masked ? " masked" : "")" }
    }

    static let cases: [Case] = [(Int32(RK_CELL_LSTM), 4096), (Int32(RK_CELL_GRU), 5462), (Int32(RK_CELL_RNN), 16390)]
        .flatMap { cell, h in [false, true].map { Case(cell: cell, hidden: h, masked: $0) } }

    static func values(_ count: Int, seed: Int, low: Float = -1, high: Float = 1) -> [Float] {
        (0..<count).map { low + (high - low) * Float(0.5 + 0.5 * sin(Double($0 * 7 + seed * 131) * 0.731)) }
    }

    @Test(arguments: cases)
    func chunkedStepMatchesWholeBlockCells(_ c: Case) {
        let (b, h, k, g) = (19, c.hidden, 3, c.gates)
        let gh = g * h
        let isGRU = c.cell == Int32(RK_CELL_GRU), isLSTM = c.cell == Int32(RK_CELL_LSTM)
        // Post-activation gates in (0, 1) (RNN: h_t in (−1, 1)), states, incoming gradients.
        let gates = Self.values(b * gh, seed: 1, low: isLSTM || isGRU ? 0.05 : -0.9, high: 0.95)
        let state = Self.values(b * h, seed: 2), previous = Self.values(b * h, seed: 3)
        let gradOutput = Self.values(b * h, seed: 4), gradHidden0 = Self.values(b * h, seed: 5)
        let gradCell0 = Self.values(b * h, seed: 6), weight = Self.values(gh * k, seed: 7, low: -0.5, high: 0.5)  // (GH, K)
        let mask = c.masked ? (0..<(b * k)).map { $0 % 3 == 0 ? Float(0) : 1.5 } : nil                           // (B, K)
        let start = Self.values(b * k, seed: 8)                                                                  // (B, K)
        var packed = [Float](repeating: 0, count: rk_packed_size(Int32(gh), Int32(k)))   // W_hh as op(B), (GH, K)
        rk_pack_b(&packed, weight, Int32(gh), Int32(k), Int32(k), 0)

        /// One backward call: the fused chunked step, or the whole block's cell kernel alone.
        func run(fused: Bool) -> (gradGates: [Float], gradGatesHidden: [Float], gradHidden: [Float], gradCell: [Float], out: [Float]) {
            var gradGates = [Float](repeating: .nan, count: b * gh), gradGatesHidden = [Float](repeating: .nan, count: b * gh)
            var gradHidden = gradHidden0, gradCell = gradCell0, out = start
            var masked = [Float](repeating: .nan, count: b * k)
            gates.withUnsafeBufferPointer { pg in state.withUnsafeBufferPointer { ps in previous.withUnsafeBufferPointer { pp in
                gradOutput.withUnsafeBufferPointer { pdy in
                    gradGates.withUnsafeMutableBufferPointer { pdg in gradGatesHidden.withUnsafeMutableBufferPointer { pdgh in
                        gradHidden.withUnsafeMutableBufferPointer { pdh in gradCell.withUnsafeMutableBufferPointer { pdc in
                            var step = rk_cell_backward(
                                rows: Int32(b), columns: Int32(h), hidden: Int32(h), gate_row: Int32(gh), state_row: Int32(h),
                                activation: Int32(RK_TANH), gates: pg.baseAddress, state: isLSTM || isGRU ? ps.baseAddress : nil,
                                previous: pp.baseAddress, grad_output: pdy.baseAddress, grad_hidden: pdh.baseAddress,
                                grad_cell: isLSTM ? pdc.baseAddress : nil, grad_gates: pdg.baseAddress,
                                grad_gates_hidden: isGRU ? pdgh.baseAddress : nil)
                            guard fused else {
                                switch c.cell {
                                case Int32(RK_CELL_LSTM): rk_lstm_backward(&step)
                                case Int32(RK_CELL_GRU): rk_gru_backward(&step)
                                default: rk_rnn_backward(&step)
                                }
                                return
                            }
                            rk_backward_step(c.cell, &step, packed, Int32(k), &out, mask, &masked)
                        } }
                    } }
                }
            } } }
            return (gradGates, gradGatesHidden, gradHidden, gradCell, out)
        }
        let fused = run(fused: true), cells = run(fused: false)
        #expect(fused.gradGates == cells.gradGates, "\(c.testDescription): gate gradients")
        if isGRU { #expect(fused.gradGatesHidden == cells.gradGatesHidden, "\(c.testDescription): hidden-side gate gradients") }
        #expect(fused.gradHidden == cells.gradHidden, "\(c.testDescription): dh written by the cell")
        if isLSTM { #expect(fused.gradCell == cells.gradCell, "\(c.testDescription): dc_{t-1}") }
        // dh_{t-1} = [start +] (mask ⊙) dG W_hh, summed in Double; float sums of G·H terms may be off
        // by about 1e-5 of the terms' absolute sum.
        let dG = isGRU ? cells.gradGatesHidden : cells.gradGates
        var worst: Float = 0
        for r in 0..<b {
            for kk in 0..<k {
                var sum = 0.0, magnitude = 0.0
                for j in 0..<gh {
                    let term = Double(dG[r * gh + j]) * Double(weight[j * k + kk])
                    (sum, magnitude) = (sum + term, magnitude + abs(term))
                }
                var want = Float(sum) * (mask?[r * k + kk] ?? 1)
                if isGRU { want += start[r * k + kk] }
                let got = fused.out[r * k + kk]
                let scale = (Float(magnitude) + abs(start[r * k + kk])) * (mask?[r * k + kk] ?? 1)
                worst = max(worst, abs(got - want) / (1e-5 + 1e-5 * scale))
            }
        }
        #expect(worst <= 1, "\(c.testDescription): dh_{t-1} off by \(worst) tolerances")
    }
}
