// The OpenCL backend's recurrent time loop (overrides of Backend.recurrentForwardSteps and
// recurrentBackwardSteps), as the tuning table or RECURRENT_OPENCL_TIME_LOOP chooses:
//   gemm        the shared per-step loop (a product with W_hh, then the cell kernel);
//   fused       one launch per step (Kernels/time_loop.cl), forward and backward, zoneout blended
//               and split inside it, plus with an LSTM projection one CLBlast GEMM per step forward
//               (h_t = m_t W_hrᵀ; with zoneout one zoneout_blend after it) and one hidden_gradient
//               launch per step backward (dh_t, which dm_t = dh_t W_hr needs whole);
//   persistent  one launch per layer and direction (Kernels/persistent.cl) where
//               `persistentChoice` allows, else fused.
// A reset-before GRU runs its own fused steps (TimeLoopResetBefore.swift) unless the loop is gemm.
// Backward ends with one hidden_gradient launch for dh_0 when the initial state has a gradient.
// The shared per-step loops (gemm here, and layer-normalised layers) blend and split zoneout in one
// launch each (zoneout_blend, zoneout_split) instead of the default's elementwise ops.
// T = steps, B = batch, B_t = rows at step t, N = rows, H = hidden size, R = width of h
// (P with a projection), G = gates.
import RecurrentCore

extension RecurrentCell {
    /// The code the step kernels use (Kernels/time_loop.cl CELL_*).
    var kernelCode: Int32 {
        switch self {
        case .lstm: return 0
        case .gru: return 1
        case .rnnTanh: return 2
        case .rnnRelu: return 3
        }
    }
}

/// How a persistent launch is laid out: `groups` work-groups, each owning `unitsPerGroup` hidden
/// units and keeping `cachedWeightsPerGroup` floats of W_hh in local memory.
public struct PersistentPlan: Sendable, Equatable {
    public let groups: Int
    public let unitsPerGroup: Int
    public let cachedWeightsPerGroup: Int

    public init(groups: Int, unitsPerGroup: Int, cachedWeightsPerGroup: Int) {
        self.groups = groups
        self.unitsPerGroup = unitsPerGroup
        self.cachedWeightsPerGroup = cachedWeightsPerGroup
    }
}

/// What the persistent mode's choice asks of a device.
public struct PersistentLimits: Sendable {
    /// The device's name, for the reasons a choice gives.
    public var name: String
    /// `CL_DEVICE_MAX_COMPUTE_UNITS`, `CL_DEVICE_LOCAL_MEM_SIZE`, `CL_DEVICE_MAX_WORK_GROUP_SIZE`.
    public var computeUnits: Int, localMemoryBytes: Int, maxWorkGroupSize: Int

    public init(name: String, computeUnits: Int, localMemoryBytes: Int, maxWorkGroupSize: Int) {
        self.name = name
        self.computeUnits = computeUnits
        self.localMemoryBytes = localMemoryBytes
        self.maxWorkGroupSize = maxWorkGroupSize
    }

    /// The limits `device` reports.
    public init(_ device: OpenCLDeviceInfo) {
        self.init(name: device.name, computeUnits: device.computeUnits, localMemoryBytes: device.localMemoryBytes,
                  maxWorkGroupSize: device.maxWorkGroupSize)
    }
}

/// Whether a layer runs persistent, and if not, why (it then runs the fused step kernels).
public enum PersistentChoice: Sendable, Equatable {
    case run(PersistentPlan)
    case refused(String)
}

extension OpenCLBackend {
    public func recurrentForwardSteps(_ loop: RecurrentForwardLoop) throws {
        // A reset-before GRU has its own fused steps (TimeLoopResetBefore.swift), two launches each.
        if loop.shape.resetBefore {
            return tuning.timeLoop == .gemm ? try perStepRecurrentForwardSteps(loop) : try resetBeforeForwardSteps(loop)
        }
        switch tuning.timeLoop {
        case .gemm: try perStepRecurrentForwardSteps(loop)
        case .fused: try fusedForwardSteps(loop)
        case .persistent:
            // Forward only, the states roll over in two slots: the fused kernels follow them.
            // The persistent kernels take no recurrent dropout mask: such a layer runs the fused ones.
            if loop.mode == .training, loop.io.hiddenMask == nil, case .run(let plan) = persistentChoice(for: loop.shape) {
                try persistentForwardSteps(loop, plan)
            } else {
                try fusedForwardSteps(loop)
            }
        }
    }

    public func recurrentBackwardSteps(_ loop: RecurrentBackwardLoop) throws {
        if loop.shape.resetBefore {
            return tuning.timeLoop == .gemm ? try perStepRecurrentBackwardSteps(loop) : try resetBeforeBackwardSteps(loop)
        }
        switch tuning.timeLoop {
        case .gemm: try perStepRecurrentBackwardSteps(loop)
        case .fused: try fusedBackwardSteps(loop)
        case .persistent:
            if loop.io.hiddenMask == nil, case .run(let plan) = persistentChoice(for: loop.shape) {
                try persistentBackwardSteps(loop, plan)
            } else {
                try fusedBackwardSteps(loop)
            }
        }
    }

    // MARK: Persistent mode: when it is safe

    /// Whether a layer of `shape` may run persistent on this device, with which layout
    /// (`persistentChoice(for:groups:tuning:limits:)` with this backend's tuning and device).
    public func persistentChoice(for shape: RecurrentLayerShape, groups: Int? = nil) -> PersistentChoice {
        Self.persistentChoice(for: shape, groups: groups, tuning: tuning, limits: PersistentLimits(device))
    }

    /// Whether a layer of `shape` may run persistent with `tuning` on a device with `limits`.
    /// Refused for variable-length batches, projections, zoneout, a reset-before GRU, a batch or hidden size past the tuning's
    /// cut-offs, groups larger than the device allows or local memory it lacks, more groups than
    /// the device holds at once (where it does not guarantee that the groups of a launch progress
    /// together, as PoCL does not, that is more than one), and, where the tuning says so (GPUs),
    /// a W_hh that does not fit the local memory of the groups. `groups` asks for a group count
    /// (default: every compute unit's share, at least enough to hold W_hh).
    public static func persistentChoice(for shape: RecurrentLayerShape, groups requested: Int? = nil, tuning t: OpenCLTuning,
                                        limits: PersistentLimits) -> PersistentChoice {
        let (b, h, g) = (shape.batchSize, shape.hiddenSize, shape.cell.gateCount)
        if shape.isPacked { return .refused("variable-length batches run the fused step kernels") }
        if shape.projectionSize != nil { return .refused("LSTM projections run the fused step kernels") }
        if shape.zoneout { return .refused("zoneout runs the fused step kernels (the persistent ones do not blend states)") }
        if shape.resetBefore {
            return .refused("a GRU with the reset gate before the product runs the fused step kernels (the persistent ones do not wait for r)")
        }
        if b > t.persistentMaxBatch {
            return .refused("batch \(b) is above the persistent cut-off \(t.persistentMaxBatch) for \(limits.name)")
        }
        if h > t.persistentMaxHidden {
            return .refused("hidden size \(h) is above the persistent cut-off \(t.persistentMaxHidden) for \(limits.name)")
        }
        let localBytes = t.persistentLocalFloats * 4
        if localBytes > limits.localMemoryBytes {
            return .refused("\(localBytes) bytes of local memory per group, \(limits.name) has \(limits.localMemoryBytes)")
        }
        if t.persistentGroupSize > limits.maxWorkGroupSize {
            return .refused("groups of \(t.persistentGroupSize) work-items, \(limits.name) allows \(limits.maxWorkGroupSize)")
        }
        // Groups that can all be resident at once: without a forward-progress guarantee, one.
        let resident = t.residentGroupsPerComputeUnit == 0 ? 1 : t.residentGroupsPerComputeUnit * limits.computeUnits
        let perUnit = g * h                                      // floats of W_hh per hidden unit
        let unitsThatFit = t.persistentLocalFloats / perUnit
        let needed = unitsThatFit == 0 ? h + 1 : (h + unitsThatFit - 1) / unitsThatFit
        let count = requested ?? min(h, max(resident, t.persistentNeedsWholeSlice ? needed : 1))
        if count < 1 { return .refused("\(count) groups") }
        if count > resident {
            let why = t.residentGroupsPerComputeUnit == 0
                ? "\(limits.name) does not guarantee that the work-groups of one launch progress together, so a "
                    + "device-wide barrier over \(count) groups could wait forever (one group runs without one)"
                : "\(count) groups, but only \(resident) are resident at once on \(limits.name)"
            return .refused(why)
        }
        let units = (h + min(count, h) - 1) / min(count, h)
        if t.persistentNeedsWholeSlice && units * perUnit > t.persistentLocalFloats {
            return .refused("W_hh slices of \(units * perUnit) floats do not fit the \(t.persistentLocalFloats) of a group")
        }
        return .run(PersistentPlan(groups: (h + units - 1) / units, unitsPerGroup: units,
                                   cachedWeightsPerGroup: min(units * perUnit, t.persistentLocalFloats)))
    }

    // MARK: Fused: one launch per step

    /// Global and local sizes of a step kernel over `columns` × `rows`.
    func stepRange(columns: Int, rows: Int) -> (global: [Int], local: [Int]) {
        let (u, r) = (tuning.stepUnits, tuning.stepRows)
        return ([(columns + u - 1) / u * u, (rows + r - 1) / r * r], [u, r])
    }

    /// Rows 0..<rows of step `step` of an (N, ·) tensor.
    func stepRows(_ x: Tensor, _ offsets: [Int], _ step: Int, _ rows: Int) throws -> Tensor {
        try x.slice(offsets[step]..<(offsets[step] + rows))
    }

    /// Rows 0..<rows of a (B, width) state.
    func stateRows(_ state: Tensor?, batch: Int, _ rows: Int, width: Int) throws -> Tensor? {
        try state?.reshaped([batch, width]).slice(0..<rows)
    }

    func fusedForwardSteps(_ loop: RecurrentForwardLoop) throws {
        let (io, w, s) = (loop.io, loop.weights, loop.shape)
        let (t, b, h, r) = (s.sequenceLength, s.batchSize, s.hiddenSize, s.outputSize)
        let offsets = s.stepOffsets
        for step in 0..<t {
            let rows = s.rows(atStep: step)
            let previousHidden = step == 0 ? try stateRows(io.initialHidden, batch: b, rows, width: r)
                                           : try stepRows(loop.output, offsets, step - 1, rows)
            // Extra and projected states through `stepState`: the step's rows in training, forward
            // only one of two rolling slots. Forward only, the gates (scratch) are still written.
            let previousCell = s.cell != .lstm ? nil : step == 0 ? try stateRows(io.initialCell, batch: b, rows, width: h)
                                                                  : try loop.stepState(loop.extra!, step: step - 1, 0..<rows)
            let hidden = try stepRows(loop.output, offsets, step, rows)                       // (B_t, R)
            let cellOutput = try loop.projected.map { try loop.stepState($0, step: step, 0..<rows) } ?? hidden  // (B_t, H)
            // Zoneout's factors of this step: h's (B_t, R), blended in the step kernel unless a projection
            // makes h_t after it; c's (B_t, H), with c̃_t kept in the reserve's candidate part.
            let zoneHidden = try io.zoneout.map { try stepRows($0.hidden, offsets, step, rows) }
            let zoneCell = try io.zoneout?.cell.map { try stepRows($0, offsets, step, rows) }
            let range = stepRange(columns: h, rows: rows)
            try launch(.stepForward, global: range.global, local: range.local,
                       [.tensor(cellOutput), .tensor(stepRows(loop.gates, offsets, step, rows)),       // (B_t, H) (B_t, GH)
                        .optional(loop.extra.map { try loop.stepState($0, step: step, 0..<rows) }),     // (B_t, H)
                        .optional(previousHidden),                                                      // (B_t, R)
                        .optional(stateRows(io.hiddenMask, batch: b, rows, width: r)),                  // (B_t, R)
                        .optional(previousCell),                                                        // (B_t, H)
                        .optional(loop.projected == nil ? zoneHidden : nil), .optional(zoneCell),       // (B_t, H) ×2
                        .optional(loop.candidateCell.map { try loop.stepState($0, step: step, 0..<rows) }),  // (B_t, H)
                        .tensor(w.weightHH), .tensor(w.biasIH), .tensor(w.biasHH),                     // (GH, R) (GH) (GH)
                        .size(rows), .size(h), .size(r), .int(s.cell.kernelCode)],
                       what: "step \(step) of \(t), \(rows) rows")
            if let weightHR = w.weightHR, loop.projected != nil {
                // h_t = m_t W_hrᵀ: (B_t, H) × (H, P), a separate CLBlast launch.
                try gemm(hidden, cellOutput, weightHR, GEMMShape(m: rows, n: r, k: h, transB: .transposed))
                if let zoneHidden {
                    try launch(.zoneoutBlend, items: rows * r,
                               [.tensor(hidden), .optional(previousHidden), .tensor(zoneHidden), .count(rows * r)])
                }
            }
        }
    }

    func fusedBackwardSteps(_ loop: RecurrentBackwardLoop) throws {
        let (io, w, s) = (loop.io, loop.weights, loop.shape)
        let (t, b, h, r, gh) = (s.sequenceLength, s.batchSize, s.hiddenSize, s.outputSize, s.gateWidth)
        let offsets = s.stepOffsets
        let gradOutput = try io.gradOutput?.reshaped([s.rowCount, r])                          // (N, R)
        // LSTM: dc ⊙ f, GRU: dh ⊙ z of the later step, per row (B, H); RNN carries nothing.
        let carry = s.cell == .lstm || s.cell == .gru ? try Tensor.empty([b, h], on: self) : nil
        // Zoneout: d ⊙ dh of the later step (B, R), which goes to h_{t-1} directly.
        let zoneCarry = io.zoneout != nil ? try Tensor.empty([b, r], on: self) : nil
        for step in stride(from: t - 1, through: 0, by: -1) {
            let rows = s.rows(atStep: step)
            let continuing = step + 1 < t ? s.rows(atStep: step + 1) : 0
            let dGx = try stepRows(loop.gradGatesInput, offsets, step, rows)                  // (B_t, GH)
            let dGh = try stepRows(loop.gradGatesHidden, offsets, step, rows)                 // (B_t, GH)
            let later = continuing > 0 ? try stepRows(loop.gradGatesHidden, offsets, step + 1, continuing) : dGh
            let dy = try gradOutput.map { try stepRows($0, offsets, step, rows) }             // (B_t, R)
            let finalHidden = try stateRows(io.gradFinalHidden, batch: b, rows, width: r)
            let mask = try stateRows(io.hiddenMask, batch: b, rows, width: r)                  // (B_t, R) or nil
            let previousHidden = s.cell != .gru ? nil : step == 0 ? try stateRows(io.initialHidden, batch: b, rows, width: r)
                                                                   : try stepRows(loop.output, offsets, step - 1, rows)
            let previousCell = s.cell != .lstm ? nil : step == 0 ? try stateRows(io.initialCell, batch: b, rows, width: h)
                                                                  : try stepRows(loop.extra!, offsets, step - 1, rows)
            let zoneHidden = try io.zoneout.map { try stepRows($0.hidden, offsets, step, rows) }   // (B_t, R)
            let zoneCell = try io.zoneout?.cell.map { try stepRows($0, offsets, step, rows) }      // (B_t, H)
            // The product the step kernel makes: dh_t from dG_{t+1} W_hh, or with a projection
            // dm_t = dh_t W_hr after a launch that makes dh_t (B_t, P) whole.
            var a = later, aRows = continuing, k = gh, weight = w.weightHH, givenProjected = false
            if let gradOutputs = loop.gradOutputs, let weightHR = w.weightHR {
                let gradStep = try stepRows(gradOutputs, offsets, step, rows)                 // (B_t, P)
                let range = stepRange(columns: r, rows: rows)
                try launch(.hiddenGradient, global: range.global, local: range.local,
                           [.tensor(gradStep), .tensor(later), .size(continuing), .size(gh), .tensor(w.weightHH),
                            .optional(nil), .optional(zoneCarry), .optional(zoneHidden), .optional(mask),
                            .optional(finalHidden), .optional(dy), .size(rows), .size(r)],
                           what: "dh of step \(step)")
                (a, aRows, k, weight, givenProjected) = (gradStep, rows, r, weightHR, true)
            }
            let range = stepRange(columns: h, rows: rows)
            try launch(.stepBackward, global: range.global, local: range.local,
                       [.tensor(dGx), .tensor(dGh), .tensor(carry ?? dGx),
                        .tensor(a), .size(aRows), .size(k), .tensor(weight), .flag(givenProjected), .size(continuing),
                        .optional(givenProjected ? nil : mask),
                        .optional(givenProjected ? nil : zoneCarry), .optional(givenProjected ? nil : zoneHidden),
                        .optional(zoneCell),
                        .optional(givenProjected ? nil : dy), .optional(givenProjected ? nil : finalHidden),
                        .optional(try stateRows(io.gradFinalCell, batch: b, rows, width: h)),
                        .tensor(stepRows(loop.gates, offsets, step, rows)),
                        // tanh reads c̃_t: c_t unless zoneout kept c̃_t apart.
                        .optional((loop.candidateCell ?? loop.extra).map { try stepRows($0, offsets, step, rows) }),
                        .optional(previousHidden), .optional(previousCell),
                        .size(rows), .size(h), .size(r), .int(s.cell.kernelCode)],
                       what: "step \(step) of \(t), \(rows) rows")
        }
        try finishInitialStateGradients(loop, carry: carry, zoneCarry: zoneCarry)
    }

    /// dh_0 = dG_0 W_hh (+ GRU's dh ⊙ z, + zoneout's d ⊙ dh_1) and dc_0 for the initial states, where asked.
    private func finishInitialStateGradients(_ loop: RecurrentBackwardLoop, carry: Tensor?, zoneCarry: Tensor?) throws {
        let (io, w, s) = (loop.io, loop.weights, loop.shape)
        let (b, r, gh) = (s.batchSize, s.outputSize, s.gateWidth)
        if let gradInitialHidden = io.gradInitialHidden {
            let range = stepRange(columns: r, rows: b)
            try launch(.hiddenGradient, global: range.global, local: range.local,
                       [.tensor(gradInitialHidden), .tensor(loop.gradGatesHidden.slice(0..<b)), .size(b), .size(gh),
                        .tensor(w.weightHH), .optional(s.cell == .gru ? carry : nil), .optional(zoneCarry), .optional(nil),
                        .optional(io.hiddenMask),
                        .optional(nil), .optional(nil), .size(b), .size(r)],
                       what: "dh of the initial state")
        }
        if let gradInitialCell = io.gradInitialCell, let carry, s.cell == .lstm {
            try copy(carry, to: gradInitialCell)
        }
    }

    // MARK: Persistent: one launch per layer and direction

    /// A zeroed arrival counter for a device-wide barrier.
    private func barrierCounter() throws -> Tensor {
        let counter = try Tensor.empty([1], on: self)
        try fill(counter, with: 0)   // 0.0 has the bits of the integer 0
        return counter
    }

    func persistentForwardSteps(_ loop: RecurrentForwardLoop, _ plan: PersistentPlan) throws {
        let (io, w, s) = (loop.io, loop.weights, loop.shape)
        let counter = try barrierCounter()
        try launch(.persistentForward, global: [plan.groups * tuning.persistentGroupSize], local: [tuning.persistentGroupSize],
                   [.tensor(loop.output), .tensor(loop.gates), .optional(loop.extra),                   // (N, H) (N, GH) (N, H)
                    .optional(io.initialHidden), .optional(io.initialCell),                              // (B, H) (B, H)
                    .tensor(w.weightHH), .tensor(w.biasIH), .tensor(w.biasHH), .memory(memory(counter, "barrier")),
                    .size(s.sequenceLength), .size(s.batchSize), .size(s.hiddenSize), .size(plan.unitsPerGroup),
                    .int(s.cell.kernelCode)],
                   what: "\(plan.groups) persistent groups")
    }

    func persistentBackwardSteps(_ loop: RecurrentBackwardLoop, _ plan: PersistentPlan) throws {
        let (io, w, s) = (loop.io, loop.weights, loop.shape)
        let counter = try barrierCounter()
        let carry = try Tensor.empty([s.batchSize, s.hiddenSize], on: self)                     // (B, H)
        try launch(.persistentBackward, global: [plan.groups * tuning.persistentGroupSize], local: [tuning.persistentGroupSize],
                   [.tensor(loop.gradGatesInput), .tensor(loop.gradGatesHidden), .tensor(carry),       // (N, GH) ×2 (B, H)
                    .optional(io.gradInitialHidden), .optional(s.cell == .lstm ? io.gradInitialCell : nil),
                    .optional(io.gradOutput), .optional(io.gradFinalHidden), .optional(io.gradFinalCell),
                    .tensor(loop.gates), .optional(loop.extra), .tensor(loop.output),
                    .optional(io.initialHidden), .optional(io.initialCell),
                    .tensor(w.weightHH), .memory(memory(counter, "barrier")),
                    .size(s.sequenceLength), .size(s.batchSize), .size(s.hiddenSize), .size(plan.unitsPerGroup),
                    .int(s.cell.kernelCode)],
                   what: "\(plan.groups) persistent groups")
    }
}

extension OpenCLBackend {
    /// Zoneout's blend in one launch (`zoneout_blend`); `scratch` is not needed.
    public func zoneoutBlend(_ x: Tensor, previous: Tensor?, factors d: Tensor, scratch: Tensor) throws {
        let n = x.count
        try RecurrentError.check("zoneout blend factors", count: d.count, equals: n)
        if let previous { try RecurrentError.check("zoneout blend previous", count: previous.count, equals: n) }
        try launch(.zoneoutBlend, items: n, [.tensor(x), .optional(previous), .tensor(d), .count(n)])
    }

    /// Zoneout's backward split in one launch (`zoneout_split`).
    public func zoneoutSplit(_ gradient: Tensor, adding extra: Tensor?, factors d: Tensor, direct: Tensor) throws {
        let n = gradient.count
        for (name, tensor) in [("factors", d), ("direct part", direct)] + (extra.map { [("extra", $0)] } ?? []) {
            try RecurrentError.check("zoneout split \(name)", count: tensor.count, equals: n)
        }
        try launch(.zoneoutSplit, items: n, [.tensor(gradient), .optional(extra), .tensor(d), .tensor(direct), .count(n)])
    }
}
