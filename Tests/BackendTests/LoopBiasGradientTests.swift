// The CPU backend's fused backward loop sums the gate gradients into the bias gradients step by
// step, each row block into sums of its own: it says so where the loop is fused (AVX2/FMA, packed
// weights on) and not otherwise, and two backward passes over the same forward give the same bits
// with two row blocks (B = 34), padded and packed, for LSTM, GRU (two sets of sums) and RNN. Their
// values against the reference are RecurrentLayerTests' (B 17, 18, 19, 34, packed, projected).
// T = time steps, B = batch, I = input size, H = hidden size, G = gates.

import CRecurrentGEMM
import Foundation
import RecurrentKit
import Testing

@Suite struct LoopBiasGradientTests {
    /// Whether this process runs the fused CPU loop.
    static let fused = rk_packed_gemm_available() != 0 && ProcessInfo.processInfo.environment["RECURRENT_PACKED_WEIGHTS"] != "0"

    static let cases: [(RecurrentCell, [Int]?)] = [RecurrentCell.lstm, .gru, .rnnTanh].flatMap { [($0, nil), ($0, [34, 30, 20, 9])] }

    @Test(arguments: 0..<cases.count)
    func biasSumsAreUsedAndRepeatable(_ index: Int) throws {
        let (cell, batchSizes) = Self.cases[index]
        let backend = CPUBackend()
        let (t, b, i, h) = (4, 34, 5, 45)
        let s = RecurrentLayerShape(cell: cell, sequenceLength: t, batchSize: b, inputSize: i, hiddenSize: h, batchSizes: batchSizes)
        let (n, gh) = (s.rowCount, s.gateWidth)
        var random = PhiloxStream(seed: 31, stream: UInt64(index))
        func tensor(_ shape: [Int], scale: Float = 1) throws -> Tensor {
            try Tensor(shape: shape, values: random.uniform(count: shape.reduce(1, *), low: -scale, high: scale), on: backend)
        }
        let bound = 1 / Float(h).squareRoot()
        let w = RecurrentWeights(weightIH: try tensor([gh, i], scale: bound), weightHH: try tensor([gh, h], scale: bound),
                                 biasIH: try tensor([gh], scale: bound), biasHH: try tensor([gh], scale: bound))
        let input = try tensor([n, i]), output = try Tensor.zeros([n, h], on: backend)
        let h0 = try tensor([b, h]), c0 = cell == .lstm ? try tensor([b, h]) : nil
        let reserve = try Tensor.zeros([s.reserveCount], on: backend)
        try backend.recurrentForward(RecurrentForwardIO(output: output, finalHidden: nil, finalCell: nil, reserve: reserve,
                                                        input: input, initialHidden: h0, initialCell: c0), w, s)
        let gradOutput = try tensor([n, h]), start = random.uniform(count: 2 * gh, low: -1, high: 1)
        let io = RecurrentBackwardIO(gradInput: nil, gradInitialHidden: nil, gradInitialCell: nil, gradOutput: gradOutput,
                                     gradFinalHidden: nil, gradFinalCell: nil, input: input, output: output,
                                     initialHidden: h0, initialCell: c0, reserve: reserve)
        #expect(backend.accumulatesBiasGradientsInTimeLoop(io, s) == Self.fused)
        /// One backward pass from the same starting gradients: (db_ih, db_hh).
        func biasGradients() throws -> [Float] {
            let g = RecurrentWeights(weightIH: try Tensor.zeros([gh, i], on: backend), weightHH: try Tensor.zeros([gh, h], on: backend),
                                     biasIH: try Tensor(shape: [gh], values: Array(start[..<gh]), on: backend),
                                     biasHH: try Tensor(shape: [gh], values: Array(start[gh...]), on: backend))
            try backend.recurrentBackward(io, w, g, s)
            return try g.biasIH.toArray() + g.biasHH.toArray()
        }
        let first = try biasGradients(), second = try biasGradients()
        #expect(first == second, "\(cell) packed \(batchSizes != nil): bias gradients differ between two passes")
        #expect(first != start, "\(cell): the bias gradients were not added to")
        if cell != .gru {
            // LSTM and RNN: both biases get the same sums.
            let added = (0..<gh).map { first[$0] - start[$0] }, addedHH = (0..<gh).map { first[gh + $0] - start[gh + $0] }
            for j in 0..<gh { #expect(abs(added[j] - addedHH[j]) <= 1e-5 * (1 + abs(added[j])), "\(cell): unit \(j)") }
        }
    }
}
