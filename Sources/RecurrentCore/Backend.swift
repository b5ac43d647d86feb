// The device abstraction. Model code talks to this protocol only.
// T = time steps, B = batch, I = input size, H = hidden size, G = gates (1, 4, 3),
// R × C = rows × columns of a matrix, N = rows of logits/targets, D = attention feature size.
//
// Conventions: outputs first, then inputs, then sizes (llm.c). Every tensor argument is a
// view (`Tensor`); "(B, H)" comments give the element layout the op reads or writes, and
// operations check element counts and throw `RecurrentError` rather than touch memory
// outside a view. `accumulate: true` adds into the output instead of overwriting it.

/// A compute device: memory, GEMM, the recurrent cell steps and the elementwise and
/// reduction ops that layers, losses and optimizers need.
///
/// Whole-layer recurrent forward/backward have a default implementation (`Backend+Recurrent`)
/// built from `gemm` and the fused per-step cell ops, so every backend runs the same time loop.
public protocol Backend: AnyObject, Sendable {
    /// The name `RECURRENT_DEVICE` uses for this device, such as `cpu`.
    var name: String { get }
    /// A human-readable description of the hardware.
    var deviceDescription: String { get }

    // MARK: Memory

    /// Allocates `count` floats with unspecified contents.
    func allocate(count: Int) throws -> any DeviceBuffer
    /// Copies host values into `destination` (`values.count == destination.count`).
    func upload(_ values: UnsafeBufferPointer<Float>, to destination: Tensor) throws
    /// Copies `source` into host memory (`values.count == source.count`).
    func download(_ source: Tensor, into values: UnsafeMutableBufferPointer<Float>) throws
    /// `destination = source` (same element count).
    func copy(_ source: Tensor, to destination: Tensor) throws
    /// Sets every element of `destination` to `value`.
    func fill(_ destination: Tensor, with value: Float) throws
    /// Waits until all queued work has finished.
    func synchronize() throws
    /// Allocation counters, for benchmarks and leak checks; nil when the backend keeps none.
    func memoryStatistics() -> MemoryStatistics?
    /// The bounds the backend's allocator works under; nil when it has no allocator of its own.
    var memoryLimits: MemoryLimits? { get }
    /// Sets the allocator's bounds (cached free bytes, bytes held); a backend without an
    /// allocator of its own ignores them.
    func setMemoryLimits(_ limits: MemoryLimits)
    /// Gives the cached free memory back to the system; returns the bytes freed.
    @discardableResult
    func releaseCachedMemory() -> Int

    // MARK: Matrix products

    /// Row-major `C = alpha·op(A)·op(B) + beta·C`, batched and strided as `shape` says. BLAS
    /// rules: `beta == 0` never reads C (NaN there does not propagate). Sizes and leading
    /// dimensions must fit in 32 bits.
    func gemm(_ c: Tensor, _ a: Tensor, _ b: Tensor, _ shape: GEMMShape) throws

    /// `op(b)` (k × n) laid out once for many `gemm(_:_:packed:accumulate:)` calls, as oneDNN and
    /// cuDNN pack recurrent weights once per sequence; nil when the backend has no faster path than
    /// `gemm` (the default). The packed copy does not follow later changes of `b`.
    func packForRepeatedProducts(_ b: Tensor, k: Int, n: Int, transB: Transpose) throws -> PackedMatrix?
    /// `c (m × n) (+)= a (m × k) · packed`, contiguous rows, m = a.count / k.
    func gemm(_ c: Tensor, _ a: Tensor, packed: PackedMatrix, accumulate: Bool) throws

    // MARK: Elementwise and reductions

    /// `x[r, c] += bias[c]` for x (R, C), bias (C).
    func addBias(_ x: Tensor, _ bias: Tensor) throws
    /// `out[c] (+)= Σ_r x[r, c]` for out (C), x (R, C).
    func sumColumns(_ out: Tensor, _ x: Tensor, accumulate: Bool) throws
    /// `y = f(x)`.
    func activationForward(_ y: Tensor, _ x: Tensor, _ activation: Activation) throws
    /// `dx (+)= dy ⊙ f'(x)`, with f' written in terms of the output `y = f(x)`.
    func activationBackward(_ dx: Tensor, _ dy: Tensor, _ y: Tensor, _ activation: Activation, accumulate: Bool) throws
    /// `y += alpha · x`.
    func axpy(_ y: Tensor, alpha: Float, _ x: Tensor) throws
    /// `x *= alpha`.
    func scale(_ x: Tensor, by alpha: Float) throws
    /// `out = a ⊙ b`.
    func multiply(_ out: Tensor, _ a: Tensor, _ b: Tensor) throws
    /// `x = min(max(x, low), high)`; throws when low > high.
    func clamp(_ x: Tensor, low: Float, high: Float) throws
    /// `out[0] = (accumulate ? out[0] : 0) + scale · reduction(x)`; out has one element.
    /// Summation order is fixed by each backend (blocks of 1024 terms, then the block sums; the CPU adds
    /// within a block in order, OpenCL by a fixed tree), so results repeat bit for bit on one device.
    func reduce(_ out: Tensor, _ x: Tensor, _ reduction: Reduction, scale: Float, accumulate: Bool) throws
    /// `grad += l1·sign(param) + 2·l2·param`: the gradient of `l1·Σ|p| + l2·Σp²`.
    func addPenaltyGradient(_ grad: Tensor, _ param: Tensor, l1: Float, l2: Float) throws
    /// `x *= min(1, maxNorm / (sqrt(sumOfSquares[0]) + 1e-6))`, PyTorch's `clip_grad_norm_` factor,
    /// computed on the device from the total sum of squares.
    func scaleByClipCoefficient(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws

    // MARK: Dropout and embeddings

    /// Inverted dropout, p in [0, 1): `mask = keep ? 1/(1-p) : 0`, `y = x ⊙ mask`, where element e is kept
    /// when `Philox.word(seed, stream, offset + e) >> 8 >= Philox.dropThreshold(p)`.
    func dropoutForward(_ y: Tensor, mask: Tensor, _ x: Tensor, probability: Float,
                        seed: UInt64, stream: UInt64, offset: UInt64) throws
    /// Zoneout's factors, p in [0, 1): `d[e] = 1` where `dropoutForward` with p drops element e
    /// (`Philox.word(seed, stream, offset + e) >> 8 < Philox.dropThreshold(p)`), else 0. By default
    /// built from `dropoutForward` on ones (`Backend+DropIndicator.swift`).
    func dropIndicator(_ d: Tensor, probability: Float, seed: UInt64, stream: UInt64, offset: UInt64) throws
    /// `out[n, :] = table[indices[n], :]`; out (N, D), indices (N), table shaped (V, D).
    /// An index that is not an integer in 0..<V gives a row of NaN.
    func embeddingForward(_ out: Tensor, indices: Tensor, table: Tensor) throws
    /// `gradTable[indices[n], :] += gradOut[n, :]` in order of n (no atomics); gradTable shaped (V, D);
    /// indices that are not integers in 0..<V are skipped.
    func embeddingBackward(_ gradTable: Tensor, indices: Tensor, gradOut: Tensor) throws

    // MARK: Row gathers and scatters (integer row maps)

    /// A row map for `gatherRows` / `scatterAddRows`: `rows` checked once (each in 0..<tableRows) and
    /// kept in this backend's form. Default: the host arrays (`RowIndices.init`).
    func makeRowIndices(_ rows: [Int], tableRows: Int) throws -> RowIndices
    /// `out[n, :] = table[rows[n], :]`: out (N, D), table (R, D) with R = `rows.tableRows`.
    func gatherRows(_ out: Tensor, _ table: Tensor, rows: RowIndices) throws
    /// `out[rows[n], :] += x[n, :]`, each row's terms added in ascending n (no atomics):
    /// out (R, D) with R = `rows.tableRows`, x (N, D).
    func scatterAddRows(_ out: Tensor, _ x: Tensor, rows: RowIndices) throws

    // MARK: Losses

    /// `loss[0] = scale · Σ (p − t)²`, `grad = 2·scale·(p − t)`.
    func meanSquaredError(loss: Tensor, gradient: Tensor, prediction: Tensor, target: Tensor, scale: Float) throws
    /// Fused, max-shifted softmax cross-entropy over logits (N, C) with class indices (N):
    /// `loss[0] = scale · Σ_n (logsumexp(x_n) − x_n[t_n])`, `grad = scale · (softmax(x) − onehot(t))`.
    /// A target of −100 (PyTorch's `ignore_index`) contributes no loss and a zero gradient row;
    /// any other target that is not an integer in 0..<C makes its row's loss and gradient NaN.
    func softmaxCrossEntropy(loss: Tensor, gradient: Tensor, logits: Tensor, targets: Tensor, scale: Float) throws

    // MARK: Attention
    // D = feature size. Scores and weights are (T, B) of rank 2 (T and B come from that shape),
    // values (T, B, D) with D its last dimension, context (B, D); lengths (B) hold counts as floats.

    /// Masked, max-shifted softmax over time for each column b: `weights[t, b] = exp(s[t, b] − m_b) / Σ_t' exp(s[t', b] − m_b)`
    /// over t < lengths[b] (all T when `lengths` is nil), with m_b the column's maximum there, sums in
    /// ascending t; steps at or past the length get exactly 0. A length that is not an integer in
    /// 1...T makes its whole column NaN. weights (T, B), scores (T, B), lengths (B).
    func sequenceSoftmax(_ weights: Tensor, scores: Tensor, lengths: Tensor?) throws
    /// Gradient of `sequenceSoftmax`: `gradScores[t, b] = w[t, b]·(gW[t, b] − Σ_t' w[t', b]·gW[t', b])`,
    /// the sum in ascending t' (masked steps have w = 0, so their gradient is 0). All (T, B).
    func sequenceSoftmaxBackward(gradScores: Tensor, gradWeights: Tensor, weights: Tensor) throws
    /// `context[b, d] = Σ_t weights[t, b]·values[t, b, d]`, in ascending t, starting from 0.
    /// context (B, D), values (T, B, D), weights (T, B).
    func weightedSum(_ context: Tensor, values: Tensor, weights: Tensor) throws
    /// Gradients of `weightedSum` (both overwritten): `gradValues[t, b, d] = weights[t, b]·gradContext[b, d]`
    /// and `gradWeights[t, b] = Σ_d gradContext[b, d]·values[t, b, d]` in ascending d.
    /// gradValues (T, B, D), gradWeights (T, B), gradContext (B, D), values (T, B, D), weights (T, B).
    func weightedSumBackward(gradValues: Tensor, gradWeights: Tensor, gradContext: Tensor, values: Tensor,
                             weights: Tensor) throws
    /// `scores[t, b] = Σ_d keys[t, b, d]·query[b, d]` in ascending d: every step's key against its own
    /// sequence's query (Luong's dot score). scores (T, B), keys (T, B, D), query (B, D).
    func batchedDot(_ scores: Tensor, keys: Tensor, query: Tensor) throws
    /// Gradients of `batchedDot`, each overwritten and skipped when nil: `gradKeys[t, b, d] = gradScores[t, b]·query[b, d]`
    /// and `gradQuery[b, d] = Σ_t gradScores[t, b]·keys[t, b, d]` in ascending t (the `weightedSum` of the keys).
    /// gradKeys (T, B, D), gradQuery (B, D), gradScores (T, B), keys (T, B, D), query (B, D).
    func batchedDotBackward(gradKeys: Tensor?, gradQuery: Tensor?, gradScores: Tensor, keys: Tensor, query: Tensor) throws

    // MARK: Optimizers

    /// One SGD update of `param` in place (momentum buffer updated when momentum > 0).
    func sgdUpdate(_ param: Tensor, gradient: Tensor, momentumBuffer: Tensor?, _ h: SGDHyperparameters) throws
    /// One Adam/AdamW update of `param`, `m` and `v` in place.
    func adamUpdate(_ param: Tensor, gradient: Tensor, m: Tensor, v: Tensor, _ h: AdamHyperparameters) throws

    // MARK: Recurrent cell steps (one time step, fused)
    // Backward steps read H from `gates`, which must be shaped (B, G·H). A `gradHidden` a step
    // does not say it overwrites is left unchanged.

    /// LSTM forward step. On entry `gates` (B, 4H) holds `x_t W_ihᵀ`; on return i, f, g, o after
    /// their nonlinearities. Writes h_t and c_t (B, H). `previousCell` nil means c_{t-1} = 0.
    func lstmForwardStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                         biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws
    /// LSTM backward step: from dh = gradOutput + gradHidden and dc = gradCell to the
    /// pre-activation gate gradients (B, 4H); `gradCell` is overwritten with dc_{t-1}.
    func lstmBackwardStep(gradGates: Tensor, gradCell: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                          gates: Tensor, cell: Tensor, previousCell: Tensor?) throws
    /// GRU forward step. On entry `gates` (B, 3H) holds `x_t W_ihᵀ`; on return r, z, n. Writes
    /// h_t and `newGateHidden` = W_hn h_{t-1} + b_hn (B, H). `previousHidden` nil means zeros.
    func gruForwardStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                        biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws
    /// GRU backward step: gate gradients for the input side (dr, dz, dn) and for the hidden side
    /// (dr, dz, dn ⊙ r), both (B, 3H). `gradHidden` is overwritten with the direct part of
    /// dh_{t-1}, z ⊙ dh; the caller adds `gradGatesHidden · W_hh`.
    func gruBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                         gates: Tensor, newGateHidden: Tensor, previousHidden: Tensor?) throws
    /// Elman RNN forward step: on entry `gates` (B, H) holds `x_t W_ihᵀ`; writes h_t to both
    /// `gates` (kept for backward) and `hidden`.
    func rnnForwardStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                        biasIH: Tensor, biasHH: Tensor, activation: Activation) throws
    /// Elman RNN backward step: `gradGates = (gradOutput + gradHidden) ⊙ f'(h_t)`, with h_t in `gates`.
    func rnnBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?,
                         gates: Tensor, activation: Activation) throws

    // GRU with the reset gate before the recurrent product (`RecurrentLayerShape.resetBefore`), two
    // cell steps per time step, around the n gate's own product: h̄ is what the products read
    // (h_{t-1}, or h_{t-1} ⊙ mask with recurrent dropout), gates are rows of 3H [r | z | n].

    /// Reset-before GRU, first forward step: on entry `gates` (B, 3H) holds `x_t W_ihᵀ` and
    /// `hiddenProjection` (B, 2H) `h̄ W_{hr,hz}ᵀ`; writes `r = σ(·)`, `z = σ(·)` (each with both
    /// biases) into the r and z blocks of `gates`, and `resetHidden` (B, H) = r ⊙ h̄ (`productHidden`
    /// nil means h̄ = 0).
    func gruResetGateStep(resetHidden: Tensor, gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                          productHidden: Tensor?) throws
    /// Reset-before GRU, second forward step: `n = tanh(x_n + b_in + newGateProjection + b_hn)` with
    /// `newGateProjection` (B, H) = (r ⊙ h̄) W_hnᵀ, written into the n block of `gates` (B, 3H), and
    /// `h_t = n + z ⊙ (h_{t-1} − n)` into `hidden` (B, H); `previousHidden` nil means zeros.
    func gruResetBeforeStep(hidden: Tensor, gates: Tensor, newGateProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                            previousHidden: Tensor?) throws
    /// Reset-before GRU, first backward step: from `dh = gradOutput + gradHidden` writes the
    /// pre-activation gradients `dz = dh ⊙ (h_{t-1} − n) ⊙ z(1−z)` and `dn = dh ⊙ (1−z) ⊙ (1−n²)` into
    /// the z and n blocks of `gradGates` (B, 3H), and overwrites `gradHidden` with `z ⊙ dh`, the
    /// direct part of dh_{t-1}.
    func gruResetBeforeBackwardStep(gradGates: Tensor, gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor,
                                    previousHidden: Tensor?) throws
    /// Reset-before GRU, second backward step: on entry `gradResetHidden` (B, H) holds
    /// d(r ⊙ h̄) = dn W_hn; writes `dr = d(r ⊙ h̄) ⊙ h̄ ⊙ r(1−r)` into the r block of `gradGates`
    /// (B, 3H) and overwrites `gradResetHidden` with `r ⊙ d(r ⊙ h̄)`, the n gate's part of dh̄.
    func gruResetGateBackwardStep(gradGates: Tensor, gradResetHidden: Tensor, gates: Tensor, productHidden: Tensor?) throws

    // Layer normalisation (Ba et al. 2016) of layer-normalised cells (`RecurrentLayerShape.layerNorm`),
    // over each row of width W (the gain's count): x̂ = (x − μ) / σ with the biased variance and
    // σ = √(var + 1e-5), as `nn.LayerNorm`.

    /// `output = x̂ ⊙ gain (+ bias)`, `normalized = x̂` (R, W), `inverseDeviation = 1/σ` (R), from
    /// `input` (R, W); `output` may be `input` itself.
    func layerNormForward(output: Tensor, normalized: Tensor, inverseDeviation: Tensor, input: Tensor, gain: Tensor,
                          bias: Tensor?) throws
    /// The gradient through the normalisation (R, W): with dx̂ = gradOutput ⊙ gain,
    /// `gradInput = (1/σ)·(dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂))`, means over each row; `gradInput`
    /// may be `gradOutput` itself.
    func layerNormBackward(gradInput: Tensor, gradOutput: Tensor, normalized: Tensor, inverseDeviation: Tensor,
                           gain: Tensor) throws
    /// Layer-normalised LSTM forward step, the recurrent norm, the gates, c's norm and the state in
    /// one: on entry `gates` (B, 4H) holds the input side's normalised pre-activations and
    /// `hiddenProjection` (B, 4H) h̄ W_hhᵀ, which the step normalises into `normalizedProjection`
    /// (B, 4H) and `projectionInverseDeviation` (B) and scales by `projectionGain` (4H); with both
    /// biases it writes i, f, g, o to `gates`, c̃ = f ⊙ c_{t-1} + i ⊙ g normalised into
    /// `normalizedCell` (B, H) and `cellInverseDeviation` (B), `cell` c_t = ĉ ⊙ cellGain + cellBias and
    /// `hidden` h_t = o ⊙ tanh(c_t) (B, H). `previousCell` nil means zeros.
    func layerNormLSTMForwardStep(hidden: Tensor, cell: Tensor, normalizedCell: Tensor, cellInverseDeviation: Tensor,
                                  normalizedProjection: Tensor, projectionInverseDeviation: Tensor,
                                  gates: Tensor, hiddenProjection: Tensor, biasIH: Tensor, biasHH: Tensor,
                                  projectionGain: Tensor, cellGain: Tensor, cellBias: Tensor, previousCell: Tensor?) throws
    /// Layer-normalised LSTM backward step: with dh = gradOutput + gradHidden, writes
    /// dc_t = gradCell + dh ⊙ o ⊙ (1 − tanh²(c_t)) to `gradCellOutput` (B, H) (for c's gain and bias),
    /// the pre-activation gate gradients (B, 4H) through dc̃ (the normalisation's backward of dc_t)
    /// to `gradGates`, their way back through the recurrent norm (`layerNormBackward` with
    /// `projectionGain`) to `gradProjection` (B, 4H), and overwrites `gradCell` with dc_{t-1} = f ⊙ dc̃.
    func layerNormLSTMBackwardStep(gradGates: Tensor, gradProjection: Tensor, gradCell: Tensor, gradCellOutput: Tensor,
                                   gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, cell: Tensor, normalizedCell: Tensor,
                                   cellInverseDeviation: Tensor, normalizedProjection: Tensor,
                                   projectionInverseDeviation: Tensor, projectionGain: Tensor, cellGain: Tensor,
                                   previousCell: Tensor?) throws
    /// Layer-normalised GRU forward step, the recurrent norm and the cell in one: on entry `gates`
    /// (B, 3H) holds the input side's normalised pre-activations and `hiddenProjection` (B, 3H)
    /// h̄ W_hhᵀ, which the step normalises into `normalizedProjection` (B, 3H) and
    /// `projectionInverseDeviation` (B) and scales by `projectionGain` (3H); then `gruForwardStep`'s
    /// r, z, n, `newGateHidden` and `hidden` from it (`hiddenProjection` may be left as it was or
    /// hold x̂ ⊙ γ). By default `layerNormForward`, then `gruForwardStep`.
    func layerNormGRUForwardStep(hidden: Tensor, newGateHidden: Tensor, normalizedProjection: Tensor,
                                 projectionInverseDeviation: Tensor, gates: Tensor, hiddenProjection: Tensor,
                                 biasIH: Tensor, biasHH: Tensor, projectionGain: Tensor, previousHidden: Tensor?) throws
    /// Layer-normalised GRU backward step: `gruBackwardStep`'s gradients (`gradGatesHidden` is the
    /// hidden side's after its norm, (B, 3H)), and that through the recurrent norm
    /// (`layerNormBackward` with `projectionGain`) into `gradProjection` (B, 3H). By default those
    /// two ops.
    func layerNormGRUBackwardStep(gradGatesInput: Tensor, gradGatesHidden: Tensor, gradProjection: Tensor,
                                  gradHidden: Tensor, gradOutput: Tensor?, gates: Tensor, newGateHidden: Tensor,
                                  normalizedProjection: Tensor, projectionInverseDeviation: Tensor, projectionGain: Tensor,
                                  previousHidden: Tensor?) throws

    // Zoneout (Krueger et al. 2017) around the cell steps of the per-step loops; by default made of
    // the elementwise ops above (Backend+Recurrent.swift), a backend may do each in one launch.

    /// Zoneout's blend in place: x ← x + d ⊙ (previous − x) (previous nil: zeros), all of x's size;
    /// `scratch` (x's size) is what the default works through.
    func zoneoutBlend(_ x: Tensor, previous: Tensor?, factors d: Tensor, scratch: Tensor) throws
    /// Zoneout's backward split in place: with g = gradient (+ extra, nil: none), `direct` = d ⊙ g (what
    /// goes to the previous step's state) and `gradient` = g − d ⊙ g (the cell's), all of one size.
    func zoneoutSplit(_ gradient: Tensor, adding extra: Tensor?, factors d: Tensor, direct: Tensor) throws

    // Forward-only cell steps (evaluation; default: the training steps above). Same tensors as the
    // training steps, but what backward would read is scratch: the step need not write the
    // post-activation gates (nor GRU's `newGateHidden`), only h_t (and c_t).

    /// Forward-only LSTM step: writes h_t and c_t (B, H); `gates` (B, 4H) holds `x_t W_ihᵀ` on entry
    /// and anything on return.
    func lstmInferenceStep(hidden: Tensor, cell: Tensor, gates: Tensor, hiddenProjection: Tensor,
                           biasIH: Tensor, biasHH: Tensor, previousCell: Tensor?) throws
    /// Forward-only GRU step: writes h_t (B, H); `gates` (B, 3H) and `newGateHidden` (B, H) are scratch.
    func gruInferenceStep(hidden: Tensor, newGateHidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                          biasIH: Tensor, biasHH: Tensor, previousHidden: Tensor?) throws
    /// Forward-only Elman RNN step: writes h_t (B, H); `gates` (B, H) is scratch.
    func rnnInferenceStep(hidden: Tensor, gates: Tensor, hiddenProjection: Tensor,
                          biasIH: Tensor, biasHH: Tensor, activation: Activation) throws
    /// One layer's forward-only step for `batchSize` sequences fed a step at a time (streaming), with
    /// the weights prepared once; nil (the default): the caller makes each step from `gemm` and the
    /// inference steps above. See `RecurrentStreamStep`.
    func makeStreamStep(_ weights: RecurrentWeights, cell: RecurrentCell, inputSize: Int, hiddenSize: Int,
                        batchSize: Int) throws -> (any RecurrentStreamStep)?

    // MARK: Whole recurrent layers (default: Backend+Recurrent.swift)

    /// How many row blocks of a batch the shared time loop may run at once (default 1).
    var batchParallelism: Int { get }
    /// Runs `body(part)` for every part in 0..<count, concurrently where the backend can (each part
    /// writes its own rows), and rethrows the first error. Default: one after another.
    func runConcurrently(_ count: Int, _ body: @Sendable (Int) throws -> Void) throws

    /// Whether this backend's `recurrentForwardSteps` makes x_t W_ihᵀ itself, step by step, for this
    /// pass (default false): then `recurrentForward` skips its whole-sequence input GEMM and the
    /// loop's `gates` hold nothing on entry (`RecurrentForwardLoop.inputProjected` is false).
    func projectsInputInTimeLoop(_ io: RecurrentForwardIO, _ shape: RecurrentLayerShape) -> Bool
    /// The time loop inside `recurrentForward`, after the input projection: every step's recurrent
    /// product, biases and cell. The default runs `gemm` and the fused cell step per step on row
    /// blocks of the batch; a backend overrides it to fuse steps further (one launch per step, a
    /// persistent kernel, workers that stay across steps).
    func recurrentForwardSteps(_ loop: RecurrentForwardLoop) throws
    /// Whether this backend's `recurrentBackwardSteps` adds the bias gradients (the column sums of
    /// the gate gradients) itself, step by step, for this pass (default false): then
    /// `recurrentBackward` hands it the gradients (`RecurrentBackwardLoop.biasGradients`) and
    /// skips its whole-sequence column sums.
    func accumulatesBiasGradientsInTimeLoop(_ io: RecurrentBackwardIO, _ shape: RecurrentLayerShape) -> Bool
    /// The time loop inside `recurrentBackward`, before the whole-sequence weight-gradient GEMMs:
    /// every step's gate gradients and dh_{t-1}, and the gradients of the initial states.
    func recurrentBackwardSteps(_ loop: RecurrentBackwardLoop) throws
    /// The time loop inside a layer-normalised layer's forward pass (`RecurrentLayerShape.layerNorm`),
    /// after the input side's GEMM: the input norm, every step's recurrent product and norm, gates
    /// and states. The default normalises the input side for the whole sequence, then runs `gemm`
    /// and the cell's ops per step for the whole batch.
    func layerNormForwardSteps(_ loop: LayerNormForwardLoop) throws
    /// The time loop inside a layer-normalised layer's backward pass, before the weight-gradient
    /// GEMMs: every step's gradients after and before the norms, dh_{t-1}, the gradients of the
    /// initial states, the biases' and the norms' parameters', and the gradient of x W_ihᵀ.
    func layerNormBackwardSteps(_ loop: LayerNormBackwardLoop) throws

    /// One layer, one direction, over a whole sequence. See `RecurrentLayerShape` for layouts.
    func recurrentForward(_ io: RecurrentForwardIO, _ weights: RecurrentWeights, _ shape: RecurrentLayerShape) throws
    /// Gradients of one layer over the whole sequence; parameter gradients accumulate.
    func recurrentBackward(_ io: RecurrentBackwardIO, _ weights: RecurrentWeights, _ gradients: RecurrentWeights,
                           _ shape: RecurrentLayerShape) throws
}

/// What a backend's allocator has done so far.
public struct MemoryStatistics: Sendable, Equatable {
    /// Allocations that went to the system (the device driver or malloc), not served from a cache.
    public var systemAllocations: Int
    /// Bytes of live tensors now.
    public var bytesInUse: Int
    /// The most bytes of live tensors at any time since the backend was made (or the peak was reset).
    public var peakBytesInUse: Int
    /// Bytes held from the system: live tensors (their blocks rounded up) plus cached free blocks.
    public var bytesReserved: Int
    /// Bytes of free blocks held for reuse (part of `bytesReserved`).
    public var bytesCached: Int

    public init(systemAllocations: Int, bytesInUse: Int, peakBytesInUse: Int, bytesReserved: Int, bytesCached: Int = 0) {
        self.systemAllocations = systemAllocations
        self.bytesInUse = bytesInUse
        self.peakBytesInUse = peakBytesInUse
        self.bytesReserved = bytesReserved
        self.bytesCached = bytesCached
    }
}

/// A GEMM operand `op(B)` (k × n) in a backend's own layout for repeated products
/// (`Backend.packForRepeatedProducts`).
public struct PackedMatrix: Sendable {
    /// Rows and columns of op(B).
    public let k: Int, n: Int
    /// The packed elements, on the backend that packed them.
    public let storage: Tensor
    /// The name of the layout `storage` is in, such as `"panels of 16 columns"`: a backend's
    /// `gemm(_:_:packed:accumulate:)` takes only the layout its own `packForRepeatedProducts` writes.
    public let layout: String

    /// A matrix of `k × n` held in `storage` in `layout`.
    public init(k: Int, n: Int, storage: Tensor, layout: String) {
        self.k = k
        self.n = n
        self.storage = storage
        self.layout = layout
    }

    /// Checks that this matrix is in `layout` and fills `count` floats of its storage; throws
    /// `.invalidArgument` naming both otherwise (a product would read garbage or past the end).
    public func check(layout expected: String, count: Int) throws {
        guard layout == expected, storage.count == count else {
            throw RecurrentError.invalidArgument(
                name: "gemm(packed:) B", expected: "\(count) floats in \(expected), as this backend's packForRepeatedProducts writes",
                got: "\(storage.count) floats in \(layout)")
        }
    }

    /// m of the product `c (m × n) = a (m × k) · self`, after checking that a holds rows of k and
    /// c holds m rows of n; throws `.shapeMismatch` otherwise.
    public func productRows(a: Tensor, c: Tensor) throws -> Int {
        guard a.count % k == 0 else {
            throw RecurrentError.shapeMismatch(operation: "gemm(packed:) A", expected: "rows of \(k)", got: "shape \(a.shape)")
        }
        let m = a.count / k
        try RecurrentError.check("gemm(packed:) C (m × n) = (\(m) × \(n))", count: c.count, equals: m * n)
        return m
    }
}

extension Backend {
    /// No packed layout: the time loop calls `gemm` every step.
    public func packForRepeatedProducts(_ b: Tensor, k: Int, n: Int, transB: Transpose) throws -> PackedMatrix? { nil }

    /// Only backends that pack have this product.
    public func gemm(_ c: Tensor, _ a: Tensor, packed: PackedMatrix, accumulate: Bool) throws {
        throw RecurrentError.invalidState("\(name) packs no matrices: gemm(packed:) needs a matrix from packForRepeatedProducts")
    }

    /// No statistics unless the backend keeps them.
    public func memoryStatistics() -> MemoryStatistics? { nil }

    /// No allocator of its own: no limits.
    public var memoryLimits: MemoryLimits? { nil }

    /// No allocator of its own: nothing to bound.
    public func setMemoryLimits(_ limits: MemoryLimits) {}

    /// No allocator of its own: nothing cached.
    @discardableResult
    public func releaseCachedMemory() -> Int { 0 }

    /// Throws `.deviceMismatch` unless `tensor` lives on this backend.
    public func checkDevice(_ tensor: Tensor, _ operation: @autoclosure () -> String) throws {
        guard tensor.backend === self else {
            throw RecurrentError.deviceMismatch(operation: operation(), expected: name, got: tensor.backend.name)
        }
    }
}
