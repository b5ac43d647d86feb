// The CPU backend's forward-only time loop split by hidden units instead of by batch rows: every
// worker runs every step for all the batch's rows but only its own share of the units (of every
// gate), so each core reads only its share of the packed [W_ih | W_hh] per step, and the workers
// meet once per step (rk_barrier_wait), since the next step's products read all of h_t. The batch
// split (RecurrentSteps.swift) needs no meeting, but it makes blocks of at least 8 rows, so a
// small batch leaves cores idle, and each core reads all the weights per step for only its rows.
// Measured on the 2-core AVX-512 Xeon (1-layer LSTM, I = H, T = 100, the C steps alone, quiet,
// passes of the two splits interleaved, median ms): B = 8 H = 512 45.8 → 23.9, H = 256 9.1 → 5.3,
// H = 128 1.72 → 1.74; B = 16 H = 512 43.9 → 39.1; B = 64 H = 256 41.3 → 43.1, H = 384 89.3 → 90.9,
// H = 512 152.2 → 152.2 (both spread 144–159). So the units split where the batch gives each
// thread fewer than 16 rows and the weights are 2 MiB or more (where a 2-core split of one step
// also pays for the streaming step, StreamSteps.swift).
// T = time steps, B = batch, N = rows, H = hidden size, G = gates, I = input size, R = width of h.
import CRecurrentGEMM
import Foundation
import RecurrentCore

/// How the CPU backend's forward-only time loop shares a pass between its threads.
public enum CPUForwardSplit: String, Sendable, CaseIterable {
    /// By units where the batch split would give each thread fewer than 16 rows and the packed
    /// weights G·H·(I + R) are at least 2¹⁹ floats (2 MiB), else by batch rows.
    case automatic = "auto"
    /// By row blocks of the batch, always.
    case batch
    /// By units wherever the unit split can run (no projection, recurrent dropout or zoneout,
    /// at least two threads), for comparisons and tests.
    case units

    /// `RECURRENT_FORWARD_SPLIT` (auto, batch, units); automatic when it is unset. Another value
    /// is named on standard error and automatic is used.
    public static let fromEnvironment: CPUForwardSplit = {
        guard let text = ProcessInfo.processInfo.environment["RECURRENT_FORWARD_SPLIT"] else { return .automatic }
        if let split = CPUForwardSplit(rawValue: text.lowercased()) { return split }
        FileHandle.standardError.write(Data("RECURRENT_FORWARD_SPLIT=\(text): expected auto, batch or units; using auto\n".utf8))
        return .automatic
    }()
}

extension CPUBackend {
    /// Whether the fused forward loop of this pass runs split by units (see the file comment).
    func splitsUnits(_ loop: RecurrentForwardLoop) -> Bool {
        let s = loop.shape
        guard loop.mode == .inference, coreCount >= 2, s.projectionSize == nil, loop.io.hiddenMask == nil,
              loop.io.zoneout == nil else { return false }
        switch forwardSplit {
        case .batch: return false
        case .units: return true
        case .automatic:
            return s.batchSize < 16 * coreCount && s.gateWidth * (s.inputSize + s.outputSize) >= 1 << 19
                && (s.hiddenSize + Int(RK_STEP_UNIT_GRAIN) - 1) / Int(RK_STEP_UNIT_GRAIN) >= coreCount
        }
    }

    /// Runs the forward loop split by units on the worker team, one part per thread; false (having
    /// run nothing) when the team cannot give every part a thread of its own now.
    func runUnitSplitForward(_ plan: StepPlan, _ p: LoopPointers) -> Bool {
        let parts = coreCount
        guard let made = rk_barrier_create(Int32(parts)) else { return false }
        let barrier = StepBarrier(pointer: made)
        defer { rk_barrier_destroy(made) }
        guard workers.run(parts, { part in plan.forwardUnits(part: part, parts: parts, p, barrier: barrier) }) else { return false }
        unitSplitCount.withLock { $0 += 1 }
        return true
    }

    /// How many forward passes of this backend ran their time loop split by units (each layer
    /// and direction counts once), for tests and benchmarks that check which loop ran.
    public var unitSplitPasses: Int { unitSplitCount.withLock { $0 } }
}

/// The barrier the parts of a unit-split loop meet at once per step.
struct StepBarrier: @unchecked Sendable {
    // @unchecked: rk_barrier is made for concurrent callers (atomics).
    let pointer: OpaquePointer
}

extension StepPlan {
    /// Every forward-only step of the whole batch for part `part` of `parts` of the hidden units
    /// (in tiles of RK_STEP_UNIT_GRAIN), meeting the other parts at `barrier` after each step.
    /// No projection, recurrent dropout or zoneout (`CPUBackend.splitsUnits`).
    func forwardUnits(part: Int, parts: Int, _ p: LoopPointers, barrier: StepBarrier) {
        let (h, r, gh) = (hidden, width, gateCount * hidden)
        let grain = Int(RK_STEP_UNIT_GRAIN), tiles = (h + grain - 1) / grain
        let first = min(h, tiles * part / parts * grain), end = min(h, tiles * (part + 1) / parts * grain)   // units of this part
        for step in 0..<steps {
            let count = sizes[step], row = offsets[step]                 // rows of this step, first row in N
            // h_{t-1} (B_t, R): every unit, written by every part in the step before; the cell's own
            // previous state only in this part's units: c_{t-1} (LSTM, slot (t − 1) % 2) or h_{t-1} (GRU).
            let previousHidden = step == 0 ? p.initialHidden : p.output + offsets[step - 1] * r
            let previousState = isLSTM ? (step == 0 ? p.initialCell : p.extra! + stateRow(step - 1, 0) * h) : previousHidden
            // With x_t W_ihᵀ made in the loop, the gates are one (B, GH) scratch block for every step.
            let gateRow = p.input != nil ? 0 : row
            var cellStep = rk_cell_forward(rows: count, hidden: h, gateCount: gateCount, activation: activation, inference: true,
                                           gates: p.gates + gateRow * gh, product: nil, biasIH: p.biasIH, biasHH: p.biasHH,
                                           previous: previousState, state: p.extra.map { $0 + stateRow(step, 0) * h },
                                           hiddenOut: p.output + row * r)
            rk_forward_step_units(cell, &cellStep, previousHidden, Int32(r), p.packedHH, p.input.map { $0 + row * inputSize },
                                  Int32(inputSize), p.packedIH, nil, nil, Int32(first), Int32(end))
            rk_barrier_wait(barrier.pointer)
        }
    }
}
