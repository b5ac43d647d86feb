// The CPU backend's streaming step (Backend.makeStreamStep): [W_ih | W_hh] packed once into
// 16-unit panels (rk_stream_pack), then per step one pass over them that makes both products and the
// cell step panel by panel (rk_stream_step_run, Sources/CRecurrentGEMM/stream_steps.c). A large
// layer's panels are split between the cores by a team of threads that keep their part from step
// to step (each core re-reads its own share of the weights, from its own L2 where it fits) and
// meet by spinning, not through Dispatch; the parts walk their panels forwards and backwards on
// alternate steps, so that a step starts on what the last one left in L2.
// B = batch, I = input size, H = hidden size, G = gates, R = width of h (P when projecting, else H).
import CRecurrentGEMM
import RecurrentCore

extension CPUBackend {
    public func makeStreamStep(_ weights: RecurrentWeights, cell: RecurrentCell, inputSize: Int, hiddenSize: Int,
                               batchSize: Int) throws -> (any RecurrentStreamStep)? {
        let width = weights.weightHH.count / max(1, cell.gateCount * hiddenSize)
        guard packedProductsAvailable, usesPackedProducts, batchSize >= 1, batchSize <= Int(RK_STREAM_MAX_ROWS),
              inputSize >= 1, hiddenSize >= 1, width >= 1,
              cell.gateCount * hiddenSize * (inputSize + width) <= Int(Int32.max)
        else { return nil }
        return try CPUStreamStep(self, weights, cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, width: width,
                                 batchSize: batchSize)
    }
}

/// One layer's streaming step on the CPU (see the file comment).
final class CPUStreamStep: RecurrentStreamStep {
    private let backend: CPUBackend
    private let cell: RecurrentCell
    private let batch: Int, inputSize: Int, hidden: Int, width: Int
    private let packed: Tensor          // (⌈H/16⌉, I + R, G, 16)
    private let biasIH: Tensor, biasHH: Tensor
    private let gates: Tensor           // (B, G·H) scratch: x_t W_ihᵀ of the panel being stepped
    /// The threads that split a step (nil: the caller alone).
    private let team: OpaquePointer?
    /// Whether the next step walks the panels last to first.
    private var reverse: Int32 = 0

    init(_ backend: CPUBackend, _ weights: RecurrentWeights, cell: RecurrentCell, inputSize: Int, hiddenSize: Int,
         width: Int, batchSize: Int) throws {
        let (g, h, op) = (cell.gateCount, hiddenSize, "stream step")
        try RecurrentError.check("\(op) W_ih (G·H, I)", count: weights.weightIH.count, equals: g * h * inputSize)
        try RecurrentError.check("\(op) W_hh (G·H, R)", count: weights.weightHH.count, equals: g * h * width)
        try RecurrentError.check("\(op) b_ih (G·H)", count: weights.biasIH.count, equals: g * h)
        try RecurrentError.check("\(op) b_hh (G·H)", count: weights.biasHH.count, equals: g * h)
        self.backend = backend
        self.cell = cell
        (batch, self.inputSize, hidden, self.width) = (batchSize, inputSize, hiddenSize, width)
        packed = try Tensor.empty([rk_stream_packed_size(Int32(inputSize), Int32(width), Int32(g), Int32(h))], on: backend)
        rk_stream_pack(try backend.pointer(packed, op), try backend.pointer(weights.weightIH, op),
                       try backend.pointer(weights.weightHH, op), Int32(inputSize), Int32(width), Int32(g), Int32(h))
        (biasIH, biasHH) = (weights.biasIH, weights.biasHH)
        gates = try Tensor.empty([batchSize * g * h], on: backend)
        // A small layer stays on one core, where meeting another would cost more than it saves
        // (measured: H = 128 takes about 5 µs a step on one core, the same on two).
        let threads = min(coreCount, 2)
        let splits = threads >= 2 && g * h * (inputSize + width) >= 1 << 19 && (h + 15) / 16 >= threads
        if splits {
            guard let team = rk_team_create(Int32(threads)) else {
                throw RecurrentError.invalidState("\(op): could not start \(threads - 1) worker thread(s)")
            }
            self.team = team
        } else {
            team = nil
        }
    }

    deinit { if let team { rk_team_destroy(team) } }

    func step(input: Tensor, previousHidden: Tensor, previousCell: Tensor?, hidden output: Tensor, cell state: Tensor?) throws {
        let op = "\(cell.rawValue) stream step"
        let (b, h) = (batch, hidden)
        let lstm = cell == .lstm
        guard lstm == (state != nil), lstm || previousCell == nil else {
            throw RecurrentError.invalidArgument(name: "\(op) cell state", expected: lstm ? "c_{t-1} and c_t (B, H)" : "none",
                                                 got: state == nil ? "none" : "a cell state")
        }
        let x = try backend.pointer(input, count: b * inputSize, "\(op) input (B, I)")
        let previous = try backend.pointer(previousHidden, count: b * width, "\(op) h_{t-1} (B, R)")
        let out = try backend.pointer(output, count: b * h, "\(op) output (B, H)")
        let c = try state.map { try backend.pointer($0, count: b * h, "\(op) c_t (B, H)") }
        // The cell's own previous state: c_{t-1} (LSTM, nil: zero) or h_{t-1} (GRU, R = H).
        let previousState: UnsafePointer<Float>?
        if lstm {
            previousState = try previousCell.map { UnsafePointer(try backend.pointer($0, count: b * h, "\(op) c_{t-1} (B, H)")) }
        } else {
            previousState = cell == .gru ? UnsafePointer(previous) : nil
        }
        var s = rk_stream_step()
        switch cell {
        case .lstm: s.cell = Int32(RK_CELL_LSTM)
        case .gru: s.cell = Int32(RK_CELL_GRU)
        case .rnnTanh, .rnnRelu: s.cell = Int32(RK_CELL_RNN)
        }
        s.activation = cell == .rnnRelu ? Int32(RK_RELU) : Int32(RK_TANH)
        (s.gate_count, s.hidden, s.input_k, s.k, s.rows) = (Int32(cell.gateCount), Int32(h), Int32(inputSize), Int32(width), Int32(b))
        s.packed = UnsafePointer(try backend.pointer(packed, "\(op) packed weights"))
        (s.input, s.previous_hidden, s.previous_state) = (UnsafePointer(x), UnsafePointer(previous), previousState)
        s.bias_ih = UnsafePointer(try backend.pointer(biasIH, "\(op) b_ih"))
        s.bias_hh = UnsafePointer(try backend.pointer(biasHH, "\(op) b_hh"))
        s.gates = try backend.pointer(gates, "\(op) scratch")
        (s.state, s.hidden_out) = (c, out)
        s.reverse = reverse
        reverse ^= 1
        withExtendedLifetime((packed, gates, biasIH, biasHH)) {
            if let team { rk_stream_step_team(team, &s) } else { rk_stream_step_run(&s, 0, 1) }
        }
    }
}
