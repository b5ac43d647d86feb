// Recurrent stacks as ONNX's LSTM, GRU and RNN operators (opset 17), one node per layer with
// both directions in it. PyTorch's gate blocks are reordered to ONNX's (LSTM i f g o → i o f c,
// GRU r z n → z r h), the two biases go into one B = [Wb | Rb], PyTorch's GRU is
// `linear_before_reset = 1` (0 with `resetAfter` false), and the output (T, D, B, H) becomes (T, B, D·H).
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, D = directions, G = gates.
import RecurrentProtos

extension RecurrentNetwork: ONNXExportable {
    /// PyTorch gate block k goes to ONNX position `onnxGateOrder.firstIndex(of: k)`: ONNX's blocks in order.
    var onnxGateOrder: [Int] {
        switch cell {
        case .lstm: [0, 3, 1, 2]          // i, o, f, g
        case .gru: [1, 0, 2]              // z, r, n
        case .rnnTanh, .rnnRelu: [0]
        }
    }

    func lowerToONNX(_ input: ONNXValue, name: String, into g: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue {
        let label = name.isEmpty ? cell.rawValue : name
        // Layer norm first: with a projection too, the norms are what ONNX cannot express at all.
        guard !variants.layerNorm else {
            throw ONNXExportError.unsupportedLayer(
                layer: label, reason: "layer-normalised cells (layerNorm) have no counterpart in ONNX's recurrent operators")
        }
        guard projSize == 0 else {
            throw ONNXExportError.unsupportedLayer(
                layer: label, reason: "LSTM projections (projSize \(projSize), weight_hr) have no counterpart in ONNX's LSTM operator")
        }
        guard !variants.goBackwards, !variants.residual else {
            throw ONNXExportError.unsupportedLayer(
                layer: label, reason: variants.goBackwards ? "goBackwards (outputs in the order read) is not exported"
                    : "residual connections between stacked layers are not exported")
        }
        guard !variants.usesZoneout else {
            throw ONNXExportError.unsupportedLayer(
                layer: label, reason: "zoneout (in evaluation each state blends with the previous one) has no counterpart "
                    + "in ONNX's recurrent operators")
        }
        let batchFirst = context.layout == .batchMajor
        let widthDimension: ONNXDimension = .fixed(inputSize)
        guard input.rank == 3, input.shape[2] == widthDimension else {
            throw ONNXExportError.unsupportedLayer(
                layer: label, reason: "expects input \(batchFirst ? "(B, T, \(inputSize))" : "(T, B, \(inputSize))"), "
                    + "gets (\(input.shape.map(\.description).joined(separator: ", ")))")
        }
        let (h, l, d) = (hiddenSize, numLayers, directions)
        let prefix = name.isEmpty ? "" : name + "."
        let op: String = switch cell { case .lstm: "LSTM"; case .gru: "GRU"; case .rnnTanh, .rnnRelu: "RNN" }
        var x = input
        if batchFirst {
            x = g.node("Transpose", [x], name: label + "/time_major", type: .float, shape: [x.shape[1], x.shape[0], x.shape[2]],
                       attributes: [ONNXAttribute.ints("perm", [1, 0, 2])])
        }
        let (time, batch) = (x.shape[0], x.shape[1])

        // Graph inputs h0 (L·D, B, H), c0 (LSTM), when states are exposed.
        let h0 = context.exposesStates ? g.addInput(prefix + "h0", .float, [.fixed(l * d), batch, .fixed(h)]) : nil
        let c0 = context.exposesStates && cell == .lstm ? g.addInput(prefix + "c0", .float, [.fixed(l * d), batch, .fixed(h)]) : nil

        var finalHidden: [ONNXValue] = [], finalCell: [ONNXValue] = []
        for k in 0..<l {
            let layer = "\(label)/l\(k)"
            let width = k == 0 ? inputSize : d * h
            let params = (0..<d).map { layerParameters[k * d + $0] }
            let w = try g.initializer("\(prefix)W_l\(k)", params.flatMap { try reorderedGates($0.weightIH.value.toArray(), columns: width) },
                                      shape: [d, cell.gateCount * h, width])                                  // (D, G·H, in)
            let r = try g.initializer("\(prefix)R_l\(k)", params.flatMap { try reorderedGates($0.weightHH.value.toArray(), columns: h) },
                                      shape: [d, cell.gateCount * h, h])                                      // (D, G·H, H)
            let b = try g.initializer("\(prefix)B_l\(k)", params.flatMap {
                try reorderedGates($0.biasIH.value.toArray(), columns: 1) + reorderedGates($0.biasHH.value.toArray(), columns: 1)
            }, shape: [d, 2 * cell.gateCount * h])                                                             // (D, 2·G·H)
            func stateRows(_ state: ONNXValue?) -> ONNXValue? {
                guard let state else { return nil }
                return g.node("Slice", [state, g.integers("\(layer)/starts", [Int64(k * d)]),
                                        g.integers("\(layer)/ends", [Int64((k + 1) * d)]), g.integers("\(layer)/axes", [0])],
                              name: "\(layer)/\(state.name)", type: .float, shape: [.fixed(d), batch, .fixed(h)])
            }
            var inputs: [ONNXValue?] = [x, w, r, b, context.sequenceLengths, stateRows(h0)]
            if cell == .lstm { inputs.append(stateRows(c0)) }
            var attributes = [ONNXAttribute.int("hidden_size", h),
                              ONNXAttribute.string("direction", bidirectional ? "bidirectional" : "forward")]
            switch cell {
            // ONNX's linear_before_reset = 0 is the reset gate before the product with Rb_hn outside it
            // (`resetAfter` false); 1 is PyTorch's GRU.
            case .gru: attributes.append(ONNXAttribute.int("linear_before_reset", variants.resetAfter ? 1 : 0))
            case .rnnRelu: attributes.append(ONNXAttribute.strings("activations", Array(repeating: "Relu", count: d)))
            case .rnnTanh, .lstm: break
            }
            var outputs: [(name: String, type: Onnx_TensorProto.DataType, shape: [ONNXDimension])] = [
                ("\(layer)/Y", .float, [time, .fixed(d), batch, .fixed(h)]),
                ("\(layer)/Y_h", .float, [.fixed(d), batch, .fixed(h)]),
            ]
            if cell == .lstm { outputs.append(("\(layer)/Y_c", .float, [.fixed(d), batch, .fixed(h)])) }
            let results = g.node(op, inputs, name: layer, outputs: outputs, attributes: attributes)
            finalHidden.append(results[1])
            if cell == .lstm { finalCell.append(results[2]) }
            // (T, D, B, H) → (T, B, D, H) → (T, B, D·H)
            let transposed = g.node("Transpose", [results[0]], name: "\(layer)/batch_major_directions", type: .float,
                                    shape: [time, batch, .fixed(d), .fixed(h)], attributes: [ONNXAttribute.ints("perm", [0, 2, 1, 3])])
            x = g.node("Reshape", [transposed, g.integers("\(layer)/shape", [0, 0, Int64(d * h)])], name: "\(layer)/concat_directions",
                       type: .float, shape: [time, batch, .fixed(d * h)])
        }
        if context.exposesStates {
            let states = [(prefix + "h_n", finalHidden)] + (cell == .lstm ? [(prefix + "c_n", finalCell)] : [])
            for (stateName, parts) in states {
                let joined = parts.count == 1 ? parts[0]
                    : g.node("Concat", parts, name: "\(label)/\(stateName)", type: .float, shape: [.fixed(l * d), batch, .fixed(h)],
                             attributes: [ONNXAttribute.int("axis", 0)])
                g.addOutput(joined, as: stateName)
            }
        }
        if batchFirst {
            x = g.node("Transpose", [x], name: label + "/batch_first", type: .float, shape: [batch, time, .fixed(d * h)],
                       attributes: [ONNXAttribute.ints("perm", [1, 0, 2])])
        }
        return x
    }

    /// PyTorch's gate blocks of `values` ((G·H, columns) row-major) in ONNX's order.
    private func reorderedGates(_ values: [Float], columns: Int) -> [Float] {
        let block = hiddenSize * columns
        return onnxGateOrder.flatMap { values[($0 * block)..<(($0 + 1) * block)] }
    }
}
