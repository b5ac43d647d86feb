// The time loop of layer-normalised LSTM and GRU layers on the device under test (on the CPU, its
// own loop: row blocks of the batch, one C step per block and step) against the reference, forward
// and every gradient, on shapes that stress that loop: hidden sizes that end mid-vector, odd batches
// split over row blocks, variable lengths within and across blocks, recurrent dropout, zoneout, no
// h_0, projections, and forward only; and the C steps' builds (portable, AVX2, AVX-512) against each other.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates.

import CRecurrentGEMM
import RecurrentKit
import TestSupport
import Testing

@Suite struct LayerNormLoopTests {
    static let cases: [RecurrentCase] = [RecurrentCell.lstm, .gru].flatMap { cell in
        [
            // B = 17: two row blocks of 8 and 9 on a two-core CPU; H = 13 ends mid-vector.
            RecurrentCase(cell: cell, t: 5, b: 17, i: 4, h: 13, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, layerNorm: true),
            // H = 37: two whole 16-wide panels and a partial one; recurrent dropout.
            RecurrentCase(cell: cell, t: 4, b: 19, i: 6, h: 37, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, hiddenMask: true, layerNorm: true),
            // Variable lengths whose ends fall in both blocks, with recurrent dropout.
            RecurrentCase(cell: cell, t: 6, b: 17, i: 3, h: 13, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, batchSizes: [17, 15, 12, 9, 4, 2], hiddenMask: true,
                          layerNorm: true),
            // Three blocks' worth of rows, steps shrinking into the first block, no dy.
            RecurrentCase(cell: cell, t: 3, b: 33, i: 5, h: 37, initialState: true, finalGradients: true,
                          gradOutput: false, inputGradients: true, batchSizes: [33, 20, 3], layerNorm: true),
            // No h_0 (the first product is zeros) and no dh_0 asked for.
            RecurrentCase(cell: cell, t: 4, b: 9, i: 2, h: 16, initialState: false, finalGradients: false,
                          gradOutput: true, inputGradients: false, layerNorm: true),
        ]
    }

    /// Zoneout on the same loop: two row blocks with H ending mid-vector; variable lengths with
    /// recurrent dropout; no h_0 and no dy (factors in [0, 1): training's and evaluation's alike).
    static let zoneoutCases: [RecurrentCase] = [RecurrentCell.lstm, .gru].flatMap { cell in
        [
            RecurrentCase(cell: cell, t: 5, b: 17, i: 4, h: 13, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, zoneout: true, layerNorm: true),
            RecurrentCase(cell: cell, t: 6, b: 17, i: 3, h: 37, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, batchSizes: [17, 15, 12, 9, 4, 2], hiddenMask: true,
                          zoneout: true, layerNorm: true),
            RecurrentCase(cell: cell, t: 3, b: 9, i: 5, h: 16, initialState: false, finalGradients: true,
                          gradOutput: false, inputGradients: true, batchSizes: [9, 5, 3], zoneout: true, layerNorm: true),
        ]
    }

    /// LSTMs with a projection on the same loop (m_t W_hrᵀ per step in each block's worker): two row
    /// blocks, H = 13 and P = 5 both ending mid-vector; P = 20 over a 16-wide panel with recurrent
    /// dropout; variable lengths across blocks with zoneout; no h_0 and no dy.
    static let projectedCases: [RecurrentCase] = [
        RecurrentCase(cell: .lstm, t: 5, b: 17, i: 4, h: 13, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, projection: 5, layerNorm: true),
        RecurrentCase(cell: .lstm, t: 4, b: 19, i: 6, h: 37, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, projection: 20, hiddenMask: true, layerNorm: true),
        RecurrentCase(cell: .lstm, t: 6, b: 17, i: 3, h: 13, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true, batchSizes: [17, 15, 12, 9, 4, 2], projection: 7, hiddenMask: true,
                      zoneout: true, layerNorm: true),
        RecurrentCase(cell: .lstm, t: 4, b: 9, i: 2, h: 16, initialState: false, finalGradients: false,
                      gradOutput: true, inputGradients: false, projection: 3, layerNorm: true),
    ]

    @Test(arguments: projectedCases)
    func projectedLoopMatchesReference(_ c: RecurrentCase) throws {
        try RecurrentLayerTests.expectLayerMatchesReference(c)
    }

    @Test(arguments: zoneoutCases)
    func zoneoutLoopMatchesReference(_ c: RecurrentCase) throws {
        try RecurrentLayerTests.expectLayerMatchesReference(c)
    }

    @Test(arguments: cases)
    func loopMatchesReference(_ c: RecurrentCase) throws {
        try RecurrentLayerTests.expectLayerMatchesReference(c)
    }

    /// Forward only on the device gives the outputs and final states of a training pass on the reference
    /// (also projected).
    @Test(arguments: [cases[2], cases[7], projectedCases[0], projectedCases[1]])
    func forwardOnlyMatchesReference(_ c: RecurrentCase) throws {
        let s = c.shape
        let (b, i, h, r, gh, n) = (c.b, c.i, c.h, s.outputSize, s.gateWidth, s.rowCount)
        let lstm = c.cell == .lstm
        var random = TestRandom(seed: 71, stream: UInt64(h * 100 + b))
        let bound = 1.5 / Float(h).squareRoot()
        let weights = try (0..<4).map { k in try Twin(k < 2 ? [gh, k == 0 ? i : r] : [gh], &random, low: -bound, high: bound) }
        let norms = try [Twin([gh], &random, low: 0.5, high: 1.5), Twin([gh], &random, low: 0.5, high: 1.5),
                         Twin([h], &random, low: 0.5, high: 1.5), Twin([h], &random, low: -0.5, high: 0.5)]
        let input = try Twin([n, i], &random), h0 = try Twin([b, r], &random), c0 = try Twin([b, h], &random)
        let mask = try Twin([b, r], random.uniform(count: b * r).map { $0 < -0.4 ? 0 : 1 / 0.7 })
        let output = try Twin([n, r]), finalHidden = try Twin([b, r]), finalCell = try Twin([b, h])
        let weightHR = try c.projection.map { try Twin([$0, h], &random, low: -bound, high: bound) }   // (P, H)
        try onBoth { backend, side in
            let mode: RecurrentForwardMode = side == .device ? .inference : .training
            let reserve = try Tensor.empty([s.reserveCount(mode)], on: backend)
            let io = RecurrentForwardIO(output: output[side], finalHidden: finalHidden[side], finalCell: lstm ? finalCell[side] : nil,
                                        reserve: reserve, input: input[side], initialHidden: h0[side],
                                        initialCell: lstm ? c0[side] : nil, mode: mode, hiddenMask: c.hiddenMask ? mask[side] : nil)
            let w = RecurrentWeights(weightIH: weights[0][side], weightHH: weights[1][side], biasIH: weights[2][side],
                                     biasHH: weights[3][side], weightHR: weightHR?[side],
                                     layerNorm: RecurrentLayerNormWeights(gainIH: norms[0][side], gainHH: norms[1][side],
                                                                          gainCell: lstm ? norms[2][side] : nil,
                                                                          biasCell: lstm ? norms[3][side] : nil))
            try backend.recurrentForward(io, w, s)
        }
        let label = "forward only \(c.testDescription)"
        try output.expectClose("\(label): output")
        try finalHidden.expectClose("\(label): final hidden")
        if lstm { try finalCell.expectClose("\(label): final cell") }
    }

    // MARK: The C steps' builds

    static let builds: [Int32] = Array(Int32(RK_ISA_PORTABLE)...rk_cpu_isa())

    /// One step of `rows` rows of H units through every build, forward then backward from its own
    /// forward results, each build's outputs against the portable build's.
    @Test(arguments: [(RK_CELL_LSTM, 13), (RK_CELL_LSTM, 37), (RK_CELL_GRU, 13), (RK_CELL_GRU, 37), (RK_CELL_LSTM, 1)])
    func buildsAgree(_ cell: Int32, _ h: Int) {
        let rows = 3, lstm = cell == RK_CELL_LSTM, gh = (lstm ? 4 : 3) * h
        var random = TestRandom(seed: 72, stream: UInt64(h) + UInt64(cell) << 8)
        let gatesIn = random.uniform(count: rows * gh, low: -2, high: 2), product = random.uniform(count: rows * gh, low: -3, high: 4)
        let gainHH = random.uniform(count: gh, low: 0.5, high: 1.5), biasIH = random.uniform(count: gh), biasHH = random.uniform(count: gh)
        let previous = random.uniform(count: rows * h), gainCell = random.uniform(count: h, low: 0.5, high: 1.5)
        let biasCell = random.uniform(count: h, low: -0.5, high: 0.5)
        let gradOutput = random.uniform(count: rows * h), gradHiddenIn = random.uniform(count: rows * h)
        let gradCellIn = random.uniform(count: rows * h), gainIH = random.uniform(count: gh, low: 0.5, high: 1.5)
        let sumsIn = random.uniform(count: 4 * gh + 2 * h)

        /// Every tensor a build writes, by name.
        func run(_ build: Int32) -> [(String, [Float])] {
            // Buffers that outlive the step structs pointing at them; NaN where the step must write.
            var buffers: [UnsafeMutableBufferPointer<Float>] = []
            defer { buffers.forEach { $0.deallocate() } }
            func buffer(_ values: [Float]) -> UnsafeMutablePointer<Float> {
                let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
                _ = b.initialize(from: values)
                buffers.append(b)
                return b.baseAddress!
            }
            func unwritten(_ count: Int) -> UnsafeMutablePointer<Float> { buffer([Float](repeating: .nan, count: count)) }
            let gates = buffer(gatesIn), normalizedProduct = unwritten(rows * gh), productInverse = unwritten(rows)
            let state = unwritten(rows * h), normalizedCell = unwritten(rows * h), cellInverse = unwritten(rows)
            let hidden = unwritten(rows * h), normalizedInput = unwritten(rows * gh), inputInverse = unwritten(rows)
            var forward = rk_layer_norm_forward(
                rows: Int32(rows), hidden: Int32(h), gates: gates, normalized_input: normalizedInput, input_inverse: inputInverse,
                gain_ih: buffer(gainIH), product: buffer(product), normalized_product: normalizedProduct,
                product_inverse: productInverse, gain_hh: buffer(gainHH), bias_ih: buffer(biasIH), bias_hh: buffer(biasHH),
                previous: buffer(previous), state: state, normalized_cell: normalizedCell, cell_inverse: cellInverse,
                gain_cell: buffer(gainCell), bias_cell: buffer(biasCell), hidden_out: hidden)
            rk_layer_norm_cell_forward_build(build, cell, &forward)
            let gradHidden = buffer(gradHiddenIn), gradCell = buffer(gradCellIn)
            let gradGates = unwritten(rows * gh), gradGatesHidden = unwritten(rows * gh)
            let gradCellOutput = unwritten(rows * h), gradProduct = unwritten(rows * gh), sums = buffer(sumsIn)
            var backward = rk_layer_norm_backward(
                rows: Int32(rows), hidden: Int32(h), gates: gates, state: state, previous: forward.previous,
                normalized_product: normalizedProduct, product_inverse: productInverse, gain_hh: forward.gain_hh,
                normalized_cell: normalizedCell, cell_inverse: cellInverse, gain_cell: forward.gain_cell,
                grad_output: buffer(gradOutput), grad_hidden: gradHidden, grad_cell: gradCell, grad_gates: gradGates,
                grad_gates_hidden: gradGatesHidden, grad_cell_output: gradCellOutput, grad_product: gradProduct,
                normalized_input: normalizedInput, input_inverse: inputInverse, gain_ih: forward.gain_ih, sum_bias_ih: sums,
                sum_bias_hh: lstm ? nil : sums + gh, sum_gain_ih: sums + 2 * gh, sum_gain_hh: sums + 3 * gh,
                sum_gain_cell: lstm ? sums + 4 * gh : nil, sum_bias_cell: lstm ? sums + 4 * gh + h : nil)
            rk_layer_norm_cell_backward_build(build, cell, &backward)
            func values(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
            var written = [("gates", values(gates, rows * gh)), ("x̂_hh", values(normalizedProduct, rows * gh)),
                           ("1/σ_hh", values(productInverse, rows)), ("state", values(state, rows * h)),
                           ("h", values(hidden, rows * h)), ("dh", values(gradHidden, rows * h)), ("dG", values(gradGates, rows * gh)),
                           ("dG before the norm", values(gradProduct, rows * gh)), ("x̂_ih", values(normalizedInput, rows * gh)),
                           ("1/σ_ih", values(inputInverse, rows)), ("column sums", values(sums, 4 * gh + 2 * h))]
            written += lstm
                ? [("x̂_c", values(normalizedCell, rows * h)), ("1/σ_c", values(cellInverse, rows)),
                   ("dc_{t-1}", values(gradCell, rows * h)), ("dc_t", values(gradCellOutput, rows * h))]
                : [("dG hidden", values(gradGatesHidden, rows * gh))]
            return written
        }
        let portable = run(Int32(RK_ISA_PORTABLE))
        for build in Self.builds.dropFirst() {
            for ((name, got), (_, want)) in zip(run(build), portable) {
                #expect(!got.contains { $0.isNaN }, "build \(build) \(lstm ? "LSTM" : "GRU") H\(h): \(name) not all written")
                expectClose(got, want, absolute: 1e-5, relative: 1e-4, "build \(build) \(lstm ? "LSTM" : "GRU") H\(h): \(name)")
            }
        }
        #expect(!portable.contains { $0.1.contains { $0.isNaN } }, "portable \(lstm ? "LSTM" : "GRU") H\(h): not all written")
    }
}
