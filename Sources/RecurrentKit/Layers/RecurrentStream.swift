// Streaming inference: a unidirectional recurrent stack fed one step at a time, its states kept
// on the device between steps. Per layer and step: the backend's own stream step where it has one
// (`Backend.makeStreamStep`: products, biases and cell in one call, the weights prepared once),
// else x W_ihᵀ and h W_hhᵀ through weights packed once for the stream (where the backend packs),
// then the forward-only cell step; no allocation after the stream is made, nothing kept for
// backward. Without a stream step, one sequence's large layer splits its gate columns across two cores.
// Zoneout's evaluation blend (h_t = h̃_t + p (h_{t-1} − h̃_t), and c likewise) follows each layer's
// cell step. Layer-normalised stacks and the reset-before GRU, which have no forward-only cell step
// here, advance through the network's own evaluation `step` (the whole pass's ops for one step,
// temporaries allocated per step) with the states copied into the stream's.
// B = batch (sequences streamed together), I = input size, H = hidden size, L = layers, G = gates,
// P = LSTM projection size, R = width of h (P when projecting, else H).

/// A recurrent stack run forward one step at a time for `batchSize` sequences, with its states
/// on the device: for serving, or for forecasting a sequence as it arrives.
///
/// ```swift
/// let stream = try lstm.stream(batchSize: 1)
/// for x in arrivingSteps {                      // each (1, I)
///     let h = try stream.step(x)               // (1, R): the top layer's output
/// }
/// let state = try stream.state()               // h (L, 1, R), c (L, 1, H)
/// ```
///
/// Stepping T times equals one evaluation-mode pass over the T steps (outputs and final states).
/// The stream reads the network's weights when it is made: make a new stream after changing them.
public final class RecurrentStream {
    /// The stack being stepped.
    public let network: RecurrentNetwork
    /// B: the sequences stepped together.
    public let batchSize: Int
    /// Steps taken since the stream was made or last reset.
    public private(set) var stepCount = 0

    /// The gate columns `columns` of x W_ihᵀ and h W_hhᵀ: the rows of W_ih and W_hh they take, in
    /// the backend's packed layout where it packs (nil: plain GEMMs), and the (B, ·) outputs they write.
    private struct ProductPart: Sendable {
        var weightIH: Tensor, weightHH: Tensor
        var inputPacked: PackedMatrix?, hiddenPacked: PackedMatrix?
        var gates: Tensor, hiddenProjection: Tensor
    }
    private struct LayerWeights {
        var weights: RecurrentWeights
        var inputWidth: Int
        /// The backend's own step for this layer (nil: `parts` and the inference cell steps).
        var streamStep: (any RecurrentStreamStep)?
        /// One part, or for a single sequence on several cores the gate columns in halves run side by side.
        var parts: [ProductPart]
        /// m W_hrᵀ in the packed layout (LSTM projections).
        var projectionPacked: PackedMatrix?
    }
    private let backend: any Backend
    private let layers: [LayerWeights]
    /// Two sets of states, h (L, B, R) and c (L, B, H): step t reads set t % 2 and writes the other.
    private let hidden: [Tensor], cell: [Tensor?]
    private let gates: Tensor               // (B, G·H) x W_ihᵀ, then scratch of the cell step
    private let hiddenProjection: Tensor    // (B, G·H) h_{t-1} W_hhᵀ
    private let scratch: Tensor?            // (B, H) GRU's W_hn h + b_hn, or an LSTM's m_t before W_hr
    private let zoneScratch: Tensor?        // (B·max(H, R)) zoneout's p (previous − new)
    /// Whether steps go through `RecurrentNetwork.step` (layer norm, reset-before GRU) instead of `layers`.
    private let stepsThroughNetwork: Bool

    /// Makes a stream of `batchSize` sequences starting from `initialState` (nil: zeros).
    /// - Throws: for a bidirectional stack (its reverse direction needs the whole sequence), one going
    ///   backwards or with residual connections, a batch size below 1, or an initial state of the wrong shape or device.
    init(_ network: RecurrentNetwork, batchSize: Int, initialState: RecurrentState?) throws {
        guard !network.bidirectional else {
            throw RecurrentError.invalidArgument(name: "\(network.cell.rawValue) stream", expected: "a unidirectional stack",
                                                 got: "a bidirectional one (its reverse direction needs the whole sequence)")
        }
        guard !network.variants.goBackwards, !network.variants.residual else {
            throw RecurrentError.invalidArgument(
                name: "\(network.cell.rawValue) stream", expected: "a stack without goBackwards or residual connections",
                got: network.variants.goBackwards ? "one going backwards (it needs the whole sequence)" : "a residual stack")
        }
        guard batchSize >= 1 else {
            throw RecurrentError.invalidArgument(name: "stream batch size", expected: "at least 1", got: "\(batchSize)")
        }
        self.network = network
        self.batchSize = batchSize
        let (b, h, r, l, gh) = (batchSize, network.hiddenSize, network.hiddenStateSize, network.numLayers,
                                network.cell.gateCount * network.hiddenSize)
        let backend = network.backend
        let throughNetwork = network.variants.layerNorm || !network.variants.resetAfter
        stepsThroughNetwork = throughNetwork
        let gates = try Tensor.empty([throughNetwork ? 1 : b, gh], on: backend)
        let hiddenProjection = try Tensor.empty([throughNetwork ? 1 : b, gh], on: backend)
        layers = throughNetwork ? [] : try network.layerParameters.enumerated().map { k, p in
            let width = k == 0 ? network.inputSize : r
            if let step = try backend.makeStreamStep(p.values, cell: network.cell, inputSize: width, hiddenSize: h, batchSize: b) {
                return LayerWeights(
                    weights: p.values, inputWidth: width, streamStep: step, parts: [],
                    projectionPacked: try p.weightHR.flatMap { try backend.packForRepeatedProducts($0.value, k: h, n: r, transB: .transposed) })
            }
            // A single sequence's step is one row of products, which no batch split can share out:
            // on several cores, large layers split the gate columns instead (each part's output is
            // contiguous only for B = 1). Small layers stay whole, where a hand-off costs more.
            let halves = b == 1 && backend.batchParallelism >= 2 && gh * (width + r) >= 1 << 19 && gh % 2 == 0
            let columns = halves ? [0..<(gh / 2), (gh / 2)..<gh] : [0..<gh]
            let parts = try columns.map { c in
                let wih = try p.weightIH.value.reshaped([gh, width]).slice(c), whh = try p.weightHH.value.reshaped([gh, r]).slice(c)
                return ProductPart(
                    weightIH: wih, weightHH: whh,
                    inputPacked: try backend.packForRepeatedProducts(wih, k: width, n: c.count, transB: .transposed),
                    hiddenPacked: try backend.packForRepeatedProducts(whh, k: r, n: c.count, transB: .transposed),
                    gates: halves ? try gates.reshaped([gh]).slice(c).reshaped([1, c.count]) : gates,
                    hiddenProjection: halves ? try hiddenProjection.reshaped([gh]).slice(c).reshaped([1, c.count]) : hiddenProjection)
            }
            return LayerWeights(
                weights: p.values, inputWidth: width, streamStep: nil, parts: parts,
                projectionPacked: try p.weightHR.flatMap { try backend.packForRepeatedProducts($0.value, k: h, n: r, transB: .transposed) })
        }
        self.backend = backend
        self.gates = gates
        self.hiddenProjection = hiddenProjection
        hidden = try (0..<2).map { _ in try Tensor.zeros([l, b, r], on: backend) }
        cell = try (0..<2).map { _ in network.cell.hasCellState ? try Tensor.zeros([l, b, h], on: backend) : nil }
        scratch = !throughNetwork && (network.cell == .gru || network.projSize > 0) ? try Tensor.empty([b, h], on: backend) : nil
        zoneScratch = !throughNetwork && network.variants.usesZoneout ? try Tensor.empty([b * max(h, r)], on: backend) : nil
        try reset(to: initialState)
    }

    /// Starts again from `state` (h (L, B, R), c (L, B, H) for LSTM; nil: zeros).
    public func reset(to state: RecurrentState? = nil) throws {
        try network.validate(state, batch: batchSize)
        if let state {
            try backend.copy(state.hidden, to: hidden[0])
            if let c = cell[0] {
                if let given = state.cell { try backend.copy(given, to: c) } else { try backend.fill(c, with: 0) }
            }
        } else {
            try backend.fill(hidden[0], with: 0)
            if let c = cell[0] { try backend.fill(c, with: 0) }
        }
        stepCount = 0
    }

    /// The states after the last step, h (L, B, R) and, for LSTM, c (L, B, H): copies that later steps leave alone.
    public func state() throws -> RecurrentState {
        let current = stepCount % 2
        return RecurrentState(hidden: try hidden[current].copy(), cell: try cell[current]?.copy())
    }

    /// Advances every layer by one step on `input` (B, I) and returns the top layer's output (B, R).
    /// The result is a view of the stream's state: it holds until the next call to `step`; copy it to keep it.
    public func step(_ input: Tensor) throws -> Tensor {
        guard input.count == batchSize * network.inputSize, input.rank <= 2, input.shape.last == network.inputSize else {
            throw RecurrentError.shapeMismatch(operation: "\(network.cell.rawValue) stream step",
                                               expected: "input (\(batchSize), \(network.inputSize))", got: "shape \(input.shape)")
        }
        try backend.checkDevice(input, "\(network.cell.rawValue) stream step input")
        let (read, write) = (stepCount % 2, (stepCount + 1) % 2)
        let (b, h, r) = (batchSize, network.hiddenSize, network.hiddenStateSize)
        if stepsThroughNetwork { return try stepThroughNetwork(input, read: read, write: write) }
        var x = input
        for (k, layer) in layers.enumerated() {
            let previousHidden = try hidden[read].row(k), newHidden = try hidden[write].row(k)   // (B, R)
            let w = layer.weights
            if let streamStep = layer.streamStep {
                // The cell writes m_t (B, H) when projecting, then h_t = m_t W_hrᵀ.
                let cellOutput = network.projSize > 0 ? scratch! : newHidden
                try streamStep.step(input: x, previousHidden: previousHidden, previousCell: try cell[read]?.row(k),
                                    hidden: cellOutput, cell: try cell[write]?.row(k))
                try zoneCell(layer: k, read: read, write: write)
                if let weightHR = w.weightHR {
                    try Self.product(newHidden, cellOutput, weightHR, layer.projectionPacked, m: b, n: r, k: h, on: backend)
                }
                try zone(newHidden, previous: previousHidden, p: network.variants.zoneout)
                x = newHidden
                continue
            }
            let (parts, width, input, backend) = (layer.parts, layer.inputWidth, x, backend)
            try backend.runConcurrently(parts.count) { p in
                let part = parts[p], n = part.gates.count / b
                try Self.product(part.gates, input, part.weightIH, part.inputPacked, m: b, n: n, k: width, on: backend)
                try Self.product(part.hiddenProjection, previousHidden, part.weightHH, part.hiddenPacked, m: b, n: n, k: r, on: backend)
            }
            switch network.cell {
            case .lstm:
                let cellOutput = network.projSize > 0 ? scratch! : newHidden                 // m_t (B, H) when projecting
                try backend.lstmInferenceStep(hidden: cellOutput, cell: cell[write]!.row(k), gates: gates,
                                              hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                              previousCell: cell[read]!.row(k))
                try zoneCell(layer: k, read: read, write: write)
                if let weightHR = w.weightHR {
                    try Self.product(newHidden, cellOutput, weightHR, layer.projectionPacked, m: b, n: r, k: h, on: backend)
                }
            case .gru:
                try backend.gruInferenceStep(hidden: newHidden, newGateHidden: scratch!, gates: gates,
                                             hiddenProjection: hiddenProjection, biasIH: w.biasIH, biasHH: w.biasHH,
                                             previousHidden: previousHidden)
            case .rnnTanh, .rnnRelu:
                try backend.rnnInferenceStep(hidden: newHidden, gates: gates, hiddenProjection: hiddenProjection,
                                             biasIH: w.biasIH, biasHH: w.biasHH,
                                             activation: network.cell == .rnnTanh ? .tanh : .relu)
            }
            try zone(newHidden, previous: previousHidden, p: network.variants.zoneout)
            x = newHidden
        }
        stepCount += 1
        return x
    }

    /// Zoneout's evaluation blend in place, as the whole pass makes it: x ← x + p (previous − x). Nothing when p is 0.
    private func zone(_ x: Tensor, previous: Tensor, p: Float) throws {
        guard p > 0, let zoneScratch else { return }
        let d = try zoneScratch.slice(0..<x.count).reshaped(x.shape)
        try backend.copy(previous, to: d)
        try backend.axpy(d, alpha: -1, x)
        try backend.scale(d, by: p)
        try backend.axpy(x, alpha: 1, d)
    }

    /// Cell zoneout of layer `k`: c_t from the cell step's c̃_t (which its h_t already read) and c_{t-1}.
    private func zoneCell(layer k: Int, read: Int, write: Int) throws {
        guard let next = cell[write], let previous = cell[read] else { return }
        try zone(try next.row(k), previous: try previous.row(k), p: network.variants.cellZoneout)
    }

    /// One step of a stack the stream's own cell steps do not compute: the network's evaluation
    /// `step` from the stream's states, whose results become the stream's next states.
    private func stepThroughNetwork(_ input: Tensor, read: Int, write: Int) throws -> Tensor {
        let wasTraining = network.isTraining
        network.isTraining = false
        defer { network.isTraining = wasTraining }
        let state = RecurrentState(hidden: hidden[read], cell: cell[read])
        let next = try network.step(input.reshaped([batchSize, network.inputSize]), state: state).state
        try backend.copy(next.hidden, to: hidden[write])
        if let c = cell[write], let given = next.cell { try backend.copy(given, to: c) }
        stepCount += 1
        return try hidden[write].row(network.numLayers - 1)
    }

    /// `c (m × n) = a · bᵀ`, through the packed copy when there is one.
    private static func product(_ c: Tensor, _ a: Tensor, _ b: Tensor, _ packed: PackedMatrix?, m: Int, n: Int, k: Int,
                                on backend: any Backend) throws {
        if let packed {
            try backend.gemm(c, a, packed: packed, accumulate: false)
        } else {
            try backend.gemm(c, a, b, GEMMShape(m: m, n: n, k: k, transB: .transposed))
        }
    }
}

extension RecurrentNetwork {
    /// A stream that steps this (unidirectional) stack for `batchSize` sequences, from
    /// `initialState` (nil: zeros), with the states kept on the device between steps.
    public func stream(batchSize: Int, initialState: RecurrentState? = nil) throws -> RecurrentStream {
        try RecurrentStream(self, batchSize: batchSize, initialState: initialState)
    }
}

extension Layer {
    /// Runs the model forward in evaluation mode (no dropout, no tape: nothing kept for backward)
    /// and returns its output; the model's training mode is as it was afterwards.
    public func predict(_ input: LayerValue) throws -> LayerValue {
        let wasTraining = isTraining
        isTraining = false
        defer { isTraining = wasTraining }
        return try forward(input, tape: nil)
    }

    /// `predict` on a sequence batch.
    public func predict(_ input: SequenceBatch) throws -> LayerValue { try predict(.sequence(input)) }
}
