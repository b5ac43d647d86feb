// The shared time loop's steps of a GRU with the reset gate before the recurrent product (Cho et
// al. 2014; Keras's `reset_after=False`), with PyTorch's GRU weights and biases:
//   r = σ(W_ir x + b_ir + W_hr h̄ + b_hr),  z = σ(W_iz x + b_iz + W_hz h̄ + b_hz),
//   n = tanh(W_in x + b_in + W_hn (r ⊙ h̄) + b_hn),  h' = n + z ⊙ (h − n),
// where h̄ is what the products read (h_{t-1}, or h_{t-1} ⊙ mask with recurrent dropout). b_hn sits
// outside the reset (b_in + b_hn is Keras's single n bias). The n gate's product waits for r, so a
// step is two products and two cell steps: h̄ W_{hr,hz}ᵀ (the first 2H rows of W_hh), the reset-gate
// step, (r ⊙ h̄) W_hnᵀ (the last H rows), the n step. The reserve's extra part keeps r ⊙ h̄ for
// dW_hn. Backward per step: the n step's gradients, d(r ⊙ h̄) = dn W_hn, the reset gate's, and
// dh̄ = r ⊙ d(r ⊙ h̄) + d(r, z) W_{hr,hz}, the products reading the gate gradients in place (row
// stride 3H). Gate gradients are the same on the input and hidden sides (one tensor).
// B = batch rows of the step, H = hidden size, R = width of h (H), N = rows of the sequence.

extension RecurrentLayerShape {
    /// Columns of the per-step product h̄ W_hhᵀ: G·H, or 2H (r and z) for a reset-before GRU.
    public var stepProductWidth: Int { resetBefore ? 2 * hiddenSize : gateWidth }
}

extension Backend {
    /// The rows of W_hh the per-step product h̄ W_hhᵀ multiplies by: all of them, or W_{hr,hz} (2H, R)
    /// for a reset-before GRU.
    func stepWeightHH(_ w: RecurrentWeights, _ s: RecurrentLayerShape) throws -> Tensor {
        guard s.resetBefore else { return w.weightHH }
        return try w.weightHH.reshaped([s.gateWidth, s.outputSize]).slice(0..<(2 * s.hiddenSize))
    }

    /// W_hn (H, R), the last H rows of a GRU's W_hh.
    func newGateWeights(_ w: RecurrentWeights, _ s: RecurrentLayerShape) throws -> Tensor {
        try w.weightHH.reshaped([s.gateWidth, s.outputSize]).slice((2 * s.hiddenSize)..<s.gateWidth)
    }

    /// One forward step of a reset-before GRU for `b` rows: on entry `gates` (b, 3H) holds x_t W_ihᵀ
    /// and `hiddenProjection` (b, 2H) h̄ W_{hr,hz}ᵀ; writes r, z, n to `gates`, r ⊙ h̄ to
    /// `resetHidden` (b, H) and h_t to `hidden` (b, H). `hiddenProjection` is scratch afterwards.
    func resetBeforeForwardStep(hidden: Tensor, resetHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                productHidden: Tensor?, previousHidden: Tensor?, _ w: RecurrentWeights,
                                packedNewGate: PackedMatrix?) throws {
        let h = w.biasIH.count / 3, b = hidden.count / max(h, 1)
        try gruResetGateStep(resetHidden: resetHidden, gates: gates, hiddenProjection: hiddenProjection,
                             biasIH: w.biasIH, biasHH: w.biasHH, productHidden: productHidden)
        // (r ⊙ h̄) W_hnᵀ: (b, H) × (H, H), into the first b·H elements of the consumed projection.
        let newGate = try hiddenProjection.reshaped([hiddenProjection.count]).slice(0..<(b * h)).reshaped([b, h])
        let whn = try w.weightHH.reshaped([3 * h, h]).slice((2 * h)..<(3 * h))
        try stepProduct(newGate, resetHidden, whn, packed: packedNewGate, m: b, n: h, k: h, transB: .transposed,
                        accumulate: false)
        try gruResetBeforeStep(hidden: hidden, gates: gates, newGateProjection: newGate, biasIH: w.biasIH, biasHH: w.biasHH,
                               previousHidden: previousHidden)
    }

    /// One backward step of a reset-before GRU for `b` rows: writes the gate gradients (b, 3H) to
    /// `gradGates`, z ⊙ dh to `gradHidden` (the direct part of dh_{t-1}) and dh̄ to
    /// `gradProductHidden` (b, H): the part of dh_{t-1} through both products, before any mask.
    func resetBeforeBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor,
                                 previousHidden: Tensor?, productHidden: Tensor?, gradProductHidden: Tensor,
                                 _ w: RecurrentWeights, _ s: RecurrentLayerShape) throws {
        let h = s.hiddenSize, b = gradProductHidden.count / h
        try gruResetBeforeBackwardStep(gradGates: gradGates, gradHidden: gradHidden, gradOutput: gradOutput, gates: gates,
                                       previousHidden: previousHidden)
        let flat = try gradGates.reshaped([gradGates.count])
        // d(r ⊙ h̄) = dn W_hn: (b, H) × (H, H), dn the n block of each gate row.
        try gemm(gradProductHidden, flat.slice((2 * h)..<flat.count), newGateWeights(w, s),
                 GEMMShape(m: b, n: h, k: h, lda: 3 * h))
        try gruResetGateBackwardStep(gradGates: gradGates, gradResetHidden: gradProductHidden, gates: gates,
                                     productHidden: productHidden)
        // dh̄ = r ⊙ d(r ⊙ h̄) + d(r, z) W_{hr,hz}: (b, 2H) × (2H, H).
        try gemm(gradProductHidden, flat, w.weightHH, GEMMShape(m: b, n: h, k: 2 * h, beta: 1, lda: 3 * h))
    }

    /// dW_hn += dnᵀ (R ⊙ H̄): (H, N) × (N, H), from the n blocks of the gate gradients (N, 3H) and
    /// the reserve's r ⊙ h̄ (N, H).
    func addNewGateWeightGradient(_ g: RecurrentWeights, gradGates: Tensor, resetHiddens: Tensor,
                                  _ s: RecurrentLayerShape) throws {
        let (n, h) = (s.rowCount, s.hiddenSize)
        let flat = try gradGates.reshaped([gradGates.count])
        try gemm(newGateWeights(g, s), flat.slice((2 * h)..<flat.count), resetHiddens,
                 GEMMShape(m: h, n: h, k: n, transA: .transposed, beta: 1, lda: 3 * h))
    }
}
