// The forward pass of a recurrent stack over a packed batch, and the backward pass it records.
// T = time steps, B = batch, N = packed rows, I = input size, H = hidden size, L = layers,
// D = directions, R = width of h (P when projecting, else H).

extension RecurrentNetwork {
    /// What backward needs from one direction of one layer.
    struct DirectionContext {
        var input: Tensor, output: Tensor, reserve: Tensor
        /// The weights the pass ran with: the parameters, or with weight drop W_hh ⊙ mask.
        var weights: RecurrentWeights
        /// The weight-drop mask of W_hh (G·H, R) and the recurrent dropout mask (B, R), where drawn.
        var weightMask: Tensor?, hiddenMask: Tensor?
        /// The zoneout factors, with zoneout.
        var zoneout: RecurrentZoneout?
    }
    /// What backward needs from one layer.
    struct LayerContext {
        var directions: [DirectionContext]
        /// The dropout mask applied to this layer's input (layers ≥ 1 in training).
        var dropoutMask: Tensor?
        var inputWidth: Int
    }
    /// What backward needs from one call.
    struct CallContext {
        var layout: PackedLayout
        var layers: [LayerContext]
        /// The initial states in sorted order; nil for zeros.
        var initial: RecurrentState?
        var inputShape: [Int]
        var steps: Int, batchSize: Int
    }

    /// The layout of `batch`, reusing the last one while shape, layout and lengths stay the same.
    private func layout(for batch: SequenceBatch) throws -> PackedLayout {
        if let layoutCache, layoutCache.key == PackedLayout.key(batch) { return layoutCache }
        let layout = try PackedLayout(batch, blocks: numLayers * directions, bidirectional: bidirectional || variants.goBackwards,
                                      on: backend)
        layoutCache = layout
        return layout
    }

    func layerShape(width: Int, batch b: Int, _ layout: PackedLayout) -> RecurrentLayerShape {
        RecurrentLayerShape(cell: cell, sequenceLength: layout.plan.steps, batchSize: b, inputSize: width, hiddenSize: hiddenSize,
                            batchSizes: layout.plan.isUniform ? nil : layout.plan.batchSizes,
                            projectionSize: projSize > 0 ? projSize : nil, zoneout: variants.usesZoneout,
                            resetBefore: !variants.resetAfter, layerNorm: variants.layerNorm)
    }

    /// One pass over `input` from `initialState`; records its backward on `tape`.
    func run(_ input: SequenceBatch, initialState: RecurrentState?, tape: Tape?) throws -> RecurrentOutput {
        try input.checkFeatures(inputSize, "\(cell.rawValue) input")
        try backend.checkDevice(input.data, "\(cell.rawValue) input")
        let (t, b) = (input.steps, input.batchSize)
        let (h, r, l, d) = (hiddenSize, hiddenStateSize, numLayers, directions)
        try validate(initialState, batch: b)
        let layout = try layout(for: input)
        let n = layout.rowCount

        // Packed input (N, I), each sequence reversed in time when the stack goes backwards.
        var x = try layout.pack(input.data, width: inputSize)
        if variants.goBackwards { x = try gather(x, rows: layout.bidirectionalRows().reversed, count: n) }
        let initial = try initialState.map { s in
            RecurrentState(hidden: try layout.sortStates(s.hidden), cell: try s.cell.map { try layout.sortStates($0) })
        }
        let hidden = try Tensor.empty([l * d, b, r], on: backend)                                   // (L·D, B, R) sorted
        let cellState = cell.hasCellState ? try Tensor.empty([l * d, b, h], on: backend) : nil    // (L·D, B, H) sorted
        // Without a tape nothing will run backward: forward only, with the cells' forward-only steps
        // and a reserve of two rolling state slots.
        let mode: RecurrentForwardMode = tape == nil ? .inference : .training
        let masks = try variantMasks(layout, batch: b)
        var layers: [LayerContext] = []
        for k in 0..<l {
            let width = k == 0 ? inputSize : d * r
            let layerInput = x   // (N, width), before dropout: what a residual connection adds
            var mask: Tensor? = nil
            if k > 0, isTraining, dropout > 0 {
                let (dropped, m) = try dropoutSite.apply(x, probability: dropout)
                x = dropped
                mask = m
            }
            let shape = layerShape(width: width, batch: b, layout)
            let outputs = try Tensor.empty([d * n, r], on: backend)      // (D·N, R): forward rows, then reverse rows
            let maps = d == 2 ? try layout.bidirectionalRows() : nil
            var contexts: [DirectionContext] = []
            for direction in 0..<d {
                let index = k * d + direction
                let directionInput = try maps.map { direction == 1 ? try gather(x, rows: $0.reversed, count: n) : x } ?? x
                let output = try outputs.slice((direction * n)..<((direction + 1) * n))
                let reserve = try Tensor.empty([shape.reserveCount(mode)], on: backend)
                var weights = layerParameters[index].values
                let weightMask = masks.weights?[index]
                if let weightMask {
                    // Weight drop: W_hh ⊙ mask once for the whole sequence, before the time loop lays it out.
                    weights.weightHH = try Tensor.empty(weightMask.shape, on: backend)   // (G·H, R)
                    try backend.multiply(weights.weightHH, layerParameters[index].weightHH.value, weightMask)
                }
                let hiddenMask = try masks.hidden?.row(index)                                     // (B, R)
                let zoneout = try zoneoutFactors(index, layout, reversed: direction == 1 ? maps?.reversed : nil)
                try backend.recurrentForward(
                    RecurrentForwardIO(output: output, finalHidden: hidden.row(index), finalCell: cellState?.row(index),
                                       reserve: reserve, input: directionInput, initialHidden: initial?.hidden.row(index),
                                       initialCell: initial?.cell?.row(index), mode: mode, hiddenMask: hiddenMask,
                                       zoneout: zoneout),
                    weights, shape)
                contexts.append(DirectionContext(input: directionInput, output: output, reserve: reserve, weights: weights,
                                                 weightMask: weightMask, hiddenMask: hiddenMask, zoneout: zoneout))
            }
            layers.append(LayerContext(directions: contexts, dropoutMask: mask, inputWidth: width))
            // Bidirectional: row r of the layer output is [forward r | reverse output of r's mirror row].
            x = try maps.map { try gather(outputs, rows: $0.concatenated, count: 2 * n).reshaped([n, 2 * r]) } ?? outputs
            if variants.residual, k > 0 {
                if d == 1 { x = try x.copy() }   // backward still reads the layer's own outputs
                try backend.axpy(x, alpha: 1, layerInput)   // (N, D·R) += (N, D·R)
            }
        }
        let outputShape = input.layout == .timeMajor ? [t, b, d * r] : [b, t, d * r]
        let output = try layout.unpack(x, shape: outputShape)
        let state = RecurrentState(hidden: try layout.unsortStates(hidden), cell: try cellState.map { try layout.unsortStates($0) })
        if let tape {
            let context = CallContext(layout: layout, layers: layers, initial: initial, inputShape: input.data.shape, steps: t, batchSize: b)
            try tape.record(inputs: [input.data, initialState?.hidden, initialState?.cell],
                            outputs: [output, state.hidden, state.cell]) { [self] gradOutputs, needs in
                try backward(context, gradOutput: gradOutputs[0], gradFinalHidden: gradOutputs[1], gradFinalCell: gradOutputs[2],
                             needsInput: needs[0], needsState: needs[1] || needs[2])
            }
        }
        return RecurrentOutput(output: SequenceBatch(sameAs: input, data: output), state: state)
    }

    /// The recurrent dropout masks (L·D, B, R) in sorted batch order and the weight-drop masks (one
    /// (G·H, R) per layer and direction) of one call: drawn in training, in that order, from the
    /// variants' stream (nil where the option is off); none in evaluation. `maskOverride` replaces the draw.
    private func variantMasks(_ layout: PackedLayout, batch b: Int) throws -> (hidden: Tensor?, weights: [Tensor]?) {
        guard isTraining, let site = variantSite else { return (nil, nil) }
        if let given = maskOverride {
            return (try given.hidden.map { try layout.sortStates($0) }, given.weights)
        }
        var hidden: Tensor? = nil
        if variants.recurrentDropout > 0 {
            let ones = try Tensor.zeros([numLayers * directions, b, hiddenStateSize], on: backend, value: 1)
            hidden = try site.apply(ones, probability: variants.recurrentDropout).1
        }
        let weights = variants.weightDrop > 0
            ? try layerParameters.map { try site.apply($0.weightHH.value, probability: variants.weightDrop).1 } : nil
        return (hidden, weights)
    }

    /// The zoneout factors of layer and direction `index` in the packed rows it runs on (N, ·): in
    /// training d ∈ {0, 1}, 1 with probability p, from the variants' stream (h, then c for an LSTM);
    /// in evaluation p everywhere. `maskOverride` gives them time-major in the caller's order; the
    /// reverse direction's rows are `reversed` (its mirror order). Nil without zoneout.
    private func zoneoutFactors(_ index: Int, _ layout: PackedLayout, reversed: RowIndices?) throws -> RecurrentZoneout? {
        guard variants.usesZoneout else { return nil }
        let (n, h, r) = (layout.rowCount, hiddenSize, hiddenStateSize)
        func factors(_ p: Float, width: Int, given: [Tensor]?) throws -> Tensor {
            if isTraining, let given = given?[index] {
                let packed = try layout.pack(given, width: width)                                 // (N, width)
                return try reversed.map { try gather(packed, rows: $0, count: n) } ?? packed
            }
            guard isTraining, p > 0, let site = variantSite else { return try Tensor.zeros([n, width], on: backend, value: p) }
            // d = 1 where dropout with probability p would drop.
            return try site.indicator([n, width], probability: p, on: backend)
        }
        return RecurrentZoneout(hidden: try factors(variants.zoneout, width: r, given: maskOverride?.zoneoutHidden),
                                cell: cell == .lstm ? try factors(variants.cellZoneout, width: h, given: maskOverride?.zoneoutCell) : nil)
    }

    /// Backward of one recorded call from the gradients of its outputs and final states (each may
    /// be nil: zero). Accumulates parameter gradients; returns the gradients of the input and of
    /// the initial hidden and cell states (nil where not needed).
    private func backward(_ c: CallContext, gradOutput: Tensor?, gradFinalHidden: Tensor?, gradFinalCell: Tensor?,
                          needsInput: Bool, needsState: Bool) throws -> [Tensor?] {
        let (layout, b, n) = (c.layout, c.batchSize, c.layout.rowCount)
        let (h, r, l, d) = (hiddenSize, hiddenStateSize, numLayers, directions)
        let sortedFinalHidden = try gradFinalHidden.map { try layout.sortStates($0.reshaped([l * d, b, r])) }
        let sortedFinalCell = try gradFinalCell.map { try layout.sortStates($0.reshaped([l * d, b, h])) }
        let stateWanted = needsState && c.initial != nil
        let gradHidden = stateWanted ? try Tensor.empty([l * d, b, r], on: backend) : nil                  // sorted
        let gradCell = stateWanted && c.initial?.cell != nil ? try Tensor.empty([l * d, b, h], on: backend) : nil   // sorted
        let maps = d == 2 ? try layout.bidirectionalRows() : nil

        var g = try gradOutput.map { try layout.pack($0, width: d * r) }                     // (N, D·R)
        var gradInput: Tensor? = nil
        for k in stride(from: l - 1, through: 0, by: -1) {
            let saved = c.layers[k]
            let wantInput = k > 0 || needsInput
            // Split the output gradient into the forward rows and the reverse rows (mirror order).
            var directionGrads: [Tensor?] = [g]
            if let maps {
                if let gk = g {
                    let both = try Tensor.zeros([2 * n, r], on: backend)
                    try backend.scatterAddRows(both, gk.reshaped([2 * n, r]), rows: maps.concatenated)
                    directionGrads = [try both.slice(0..<n), try both.slice(n..<(2 * n))]
                } else {
                    directionGrads = [nil, nil]
                }
            }
            var dx: Tensor? = nil
            for direction in 0..<d {
                let index = k * d + direction, context = saved.directions[direction]
                let gradDirectionInput = wantInput ? try Tensor.empty([n, saved.inputWidth], on: backend) : nil
                // Weight drop: the pass's W_hh gradient lands in a buffer of its own, then only the kept
                // weights receive it (times 1/(1−p), the mask's value).
                var gradients = layerParameters[index].gradients
                let droppedGradient = try context.weightMask.map { try Tensor.zeros($0.shape, on: backend) }   // (G·H, R)
                if let droppedGradient { gradients.weightHH = droppedGradient }
                try backend.recurrentBackward(
                    RecurrentBackwardIO(gradInput: gradDirectionInput, gradInitialHidden: gradHidden?.row(index),
                                        gradInitialCell: gradCell?.row(index), gradOutput: directionGrads[direction],
                                        gradFinalHidden: sortedFinalHidden?.row(index), gradFinalCell: sortedFinalCell?.row(index),
                                        input: context.input, output: context.output,
                                        initialHidden: c.initial?.hidden.row(index), initialCell: c.initial?.cell?.row(index),
                                        reserve: context.reserve, hiddenMask: context.hiddenMask, zoneout: context.zoneout),
                    context.weights, gradients, layerShape(width: saved.inputWidth, batch: b, layout))
                if let droppedGradient, let mask = context.weightMask {
                    try backend.multiply(droppedGradient, droppedGradient, mask)
                    try backend.axpy(layerParameters[index].weightHH.gradient, alpha: 1, droppedGradient)
                }
                guard let gradDirectionInput else { continue }
                if let forward = dx, let maps {
                    // Back from mirror order, then the two directions' contributions add up.
                    try backend.axpy(forward, alpha: 1, gather(gradDirectionInput, rows: maps.reversed, count: n))
                } else {
                    dx = gradDirectionInput
                }
            }
            if let dx, let mask = saved.dropoutMask { gradInput = try DropoutSite.backward(dx, mask: mask) } else { gradInput = dx }
            // A residual layer's input also reaches its output directly.
            if variants.residual, k > 0, let gradInput, let g { try backend.axpy(gradInput, alpha: 1, g) }
            g = gradInput
        }
        if variants.goBackwards, let reversed = gradInput {
            gradInput = try gather(reversed, rows: layout.bidirectionalRows().reversed, count: n)
        }
        let input = try gradInput.map { try layout.unpack($0, shape: c.inputShape) }
        return [needsInput ? input : nil,
                try gradHidden.map { try layout.unsortStates($0) }, try gradCell.map { try layout.unsortStates($0) }]
    }
}
