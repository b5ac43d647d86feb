// The non-recurrent layers in ONNX: Linear as Gemm (2-D input) or MatMul + Add, Embedding as
// Gather, attention pooling as scores, a Softmax over time masked past each sequence's length,
// and a weighted sum; LastTimeStep as Gather of step −1; activations as their operators;
// Dropout as nothing (an export is for inference).
// T = time steps, B = batch, D = feature size, A = attention size.
import Foundation
import RecurrentProtos

extension Linear: ONNXExportable {
    func lowerToONNX(_ input: ONNXValue, name: String, into g: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue {
        let label = name.isEmpty ? "linear" : name
        guard input.shape.last == .fixed(inputSize) else {
            throw ONNXExportError.unsupportedLayer(layer: label, reason: "expects input (…, \(inputSize)), gets (\(input.shape.map(\.description).joined(separator: ", ")))")
        }
        let shape = Array(input.shape.dropLast()) + [.fixed(outputSize)]
        let prefix = name.isEmpty ? "" : name + "."
        if input.rank == 2 {
            // Gemm: x Wᵀ + b with W as stored (out, in).
            let w = try g.initializer(prefix + "weight", weight.value.toArray(), shape: [outputSize, inputSize])
            let b = try bias.map { try g.initializer(prefix + "bias", $0.value.toArray(), shape: [outputSize]) }
            return g.node("Gemm", [input, w] + (b.map { [$0] } ?? []), name: label, type: .float, shape: shape,
                          attributes: [ONNXAttribute.int("transB", 1)])
        }
        // Any other rank: x (…, in) × Wᵀ (in, out), then + b.
        let values = try weight.value.toArray()
        let transposed = (0..<(inputSize * outputSize)).map { values[($0 % outputSize) * inputSize + $0 / outputSize] }
        let wt = g.initializer(prefix + "weight_t", transposed, shape: [inputSize, outputSize])
        let product = g.node("MatMul", [input, wt], name: label, type: .float, shape: shape)
        guard let bias else { return product }
        let b = try g.initializer(prefix + "bias", bias.value.toArray(), shape: [outputSize])
        return g.node("Add", [product, b], name: label + "/bias", type: .float, shape: shape)
    }
}

extension Embedding: ONNXExportable {
    func lowerToONNX(_ input: ONNXValue, name: String, into g: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue {
        let label = name.isEmpty ? "embedding" : name
        let table = try g.initializer((name.isEmpty ? "" : name + ".") + "weight", weight.value.toArray(),
                                      shape: [vocabularySize, embeddingSize])
        var indices = input
        if input.elementType != .int64 {
            indices = g.node("Cast", [input], name: label + "/indices", type: .int64, shape: input.shape,
                             attributes: [ONNXAttribute.int("to", Int(Onnx_TensorProto.DataType.int64.rawValue))])
        }
        return g.node("Gather", [table, indices], name: label, type: .float, shape: input.shape + [.fixed(embeddingSize)],
                      attributes: [ONNXAttribute.int("axis", 0)])
    }
}

extension Attention: ONNXExportable {
    func lowerToONNX(_ values: ONNXValue, name: String, into g: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue {
        let label = name.isEmpty ? "attention" : name
        guard values.rank == 3, values.shape[2] == .fixed(featureSize) else {
            throw ONNXExportError.unsupportedLayer(layer: label, reason: "expects values (T, B, \(featureSize)), gets (\(values.shape.map(\.description).joined(separator: ", ")))")
        }
        let prefix = name.isEmpty ? "" : name + "."
        let (time, batch) = (values.shape[0], values.shape[1])
        let d = featureSize
        var scores: ONNXValue                                                                    // (T, B)
        switch kind {
        case .dotProduct:
            let query = try g.initializer(prefix + "query", present(self.query, "query").value.toArray(), shape: [d])
            let raw = g.node("MatMul", [values, query], name: label + "/scores", type: .float, shape: [time, batch])
            let scale = g.initializer(prefix + "scale", [1 / Float(d).squareRoot()], shape: [])
            scores = g.node("Mul", [raw, scale], name: label + "/scaled_scores", type: .float, shape: [time, batch])
        case .additive(let a):
            let w = try present(weight, "weight").value.toArray()                                // (A, D)
            let wt = g.initializer(prefix + "weight_t", (0..<(a * d)).map { w[($0 % a) * d + $0 / a] }, shape: [d, a])
            let projected = g.node("MatMul", [values, wt], name: label + "/projection", type: .float, shape: [time, batch, .fixed(a)])
            let b = try g.initializer(prefix + "bias", present(bias, "bias").value.toArray(), shape: [a])
            let shifted = g.node("Add", [projected, b], name: label + "/bias", type: .float, shape: [time, batch, .fixed(a)])
            let activated = g.node("Tanh", [shifted], name: label + "/tanh", type: .float, shape: [time, batch, .fixed(a)])
            let v = try g.initializer(prefix + "vector", present(vector, "vector").value.toArray(), shape: [a])
            scores = g.node("MatMul", [activated, v], name: label + "/scores", type: .float, shape: [time, batch])
        }
        if let lengths = context.sequenceLengths {
            // Steps t ≥ lengths[b] get score −∞, so weight exactly 0: mask = range(T) (T, 1) < lengths (B).
            let shape = g.node("Shape", [values], name: label + "/values_shape", type: .int64, shape: [.fixed(3)])
            let steps = g.node("Gather", [shape, g.integers(label + "/time_axis", [0], shape: [])], name: label + "/steps",
                               type: .int64, shape: [], attributes: [ONNXAttribute.int("axis", 0)])
            let range = g.node("Range", [g.integers(label + "/zero", [0], shape: []), steps, g.integers(label + "/one", [1], shape: [])],
                               name: label + "/step_index", type: .int64, shape: [time])
            let column = g.node("Unsqueeze", [range, g.integers(label + "/column_axis", [1])], name: label + "/step_column",
                                type: .int64, shape: [time, .fixed(1)])
            let lengths64 = g.node("Cast", [lengths], name: label + "/lengths", type: .int64, shape: [batch],
                                   attributes: [ONNXAttribute.int("to", Int(Onnx_TensorProto.DataType.int64.rawValue))])
            let valid = g.node("Less", [column, lengths64], name: label + "/valid", type: .bool, shape: [time, batch])
            let negativeInfinity = g.initializer(prefix + "masked_score", [-Float.infinity], shape: [])
            scores = g.node("Where", [valid, scores, negativeInfinity], name: label + "/masked_scores", type: .float, shape: [time, batch])
        }
        let weights = g.node("Softmax", [scores], name: label + "/weights", type: .float, shape: [time, batch],
                             attributes: [ONNXAttribute.int("axis", 0)])
        let expanded = g.node("Unsqueeze", [weights, g.integers(label + "/feature_axis", [2])], name: label + "/weights_column",
                              type: .float, shape: [time, batch, .fixed(1)])
        let weighted = g.node("Mul", [values, expanded], name: label + "/weighted", type: .float, shape: values.shape)
        return g.node("ReduceSum", [weighted, g.integers(label + "/sum_axis", [0])], name: label + "/context", type: .float,
                      shape: [batch, .fixed(d)], attributes: [ONNXAttribute.int("keepdims", 0)])
    }

    private func present(_ parameter: Parameter?, _ what: String) throws -> Parameter {
        guard let parameter else { throw RecurrentError.invalidState("Attention: \(what) missing for \(kind)") }
        return parameter
    }
}

extension LastTimeStep: ONNXExportable {
    func lowerToONNX(_ input: ONNXValue, name: String, into g: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue {
        let label = name.isEmpty ? "last" : name
        guard input.rank == 3 else {
            throw ONNXExportError.unsupportedLayer(layer: label, reason: "expects input (T, B, F), gets rank \(input.rank)")
        }
        return g.node("Gather", [input, g.integers(label + "/last_step", [-1], shape: [])], name: label, type: .float,
                      shape: Array(input.shape.dropFirst()), attributes: [ONNXAttribute.int("axis", 0)])
    }
}

extension Dropout: ONNXExportable {
    func lowerToONNX(_ input: ONNXValue, name: String, into g: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue {
        input   // dropout is off at inference
    }
}

extension ActivationLayer: ONNXExportable {
    func lowerToONNX(_ input: ONNXValue, name: String, into g: inout ONNXGraphBuilder,
                     _ context: ONNXExportContext) throws -> ONNXValue {
        let op: String
        switch activation {
        case .identity: return input
        case .tanh: op = "Tanh"
        case .relu: op = "Relu"
        case .sigmoid: op = "Sigmoid"
        }
        return g.node(op, [input], name: name.isEmpty ? op.lowercased() : name, type: input.elementType, shape: input.shape)
    }
}
