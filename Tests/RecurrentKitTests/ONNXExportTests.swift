// ONNX export checked by ONNX Runtime: each model is exported, run here in evaluation mode and by
// ONNX Runtime (scripts/onnx_check.py in the .venv that scripts/install-deps.sh makes, with
// onnx.checker first), and the outputs must agree within abs 1e-5 + rel 1e-4. Without python3 the
// check prints a notice and skips; RECURRENT_REQUIRE_ONNX_CHECK=1 (CI) makes a missing .venv fail.
// T = steps, B = batch, I = input size, H = hidden size, L = layers, D = directions, V = vocabulary.

import Foundation
import RecurrentKit
import Testing
import TestSupport

/// One exported model with the inputs fed to both sides and the outputs this library computed.
private struct ONNXCase {
    enum Values { case float([Float]), int32([Int32]), int64([Int64]) }
    var name: String
    var model: any Layer
    var options = ONNXExportOptions()
    var inputs: [(name: String, shape: [Int], values: Values)] = []
    var outputs: [(name: String, shape: [Int], values: [Float])] = []

    func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try model.exportONNX(to: directory.appendingPathComponent("model.onnx"), options: options)
        func data<T>(_ values: [T]) -> Data { values.withUnsafeBufferPointer { Data(buffer: $0) } }
        var inputEntries: [[String: Any]] = [], outputEntries: [[String: Any]] = []
        for (index, input) in inputs.enumerated() {
            let file = "input\(index).bin"
            let (dtype, bytes): (String, Data) = switch input.values {
            case .float(let v): ("float32", data(v))
            case .int32(let v): ("int32", data(v))
            case .int64(let v): ("int64", data(v))
            }
            try bytes.write(to: directory.appendingPathComponent(file))
            inputEntries.append(["name": input.name, "dtype": dtype, "shape": input.shape, "file": file])
        }
        for (index, output) in outputs.enumerated() {
            let file = "output\(index).bin"
            try data(output.values).write(to: directory.appendingPathComponent(file))
            outputEntries.append(["name": output.name, "shape": output.shape, "file": file])
        }
        let json = try JSONSerialization.data(withJSONObject: ["inputs": inputEntries, "outputs": outputEntries])
        try json.write(to: directory.appendingPathComponent("case.json"))
    }
}

/// The Python that runs the check, or nil (after a notice, or a recorded failure under CI) without one.
private func checkPython(root: URL) -> URL? {
    let venv = root.appendingPathComponent(".venv/bin/python")
    if FileManager.default.isExecutableFile(atPath: venv.path) { return venv }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let hasPython = path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/python3") }
    if ProcessInfo.processInfo.environment["RECURRENT_REQUIRE_ONNX_CHECK"] == "1" {
        Issue.record("RECURRENT_REQUIRE_ONNX_CHECK=1 but \(venv.path) is missing: run scripts/install-deps.sh")
    } else if hasPython {
        print("notice: \(venv.path) is missing (scripts/install-deps.sh makes it): skipping the ONNX Runtime check")
    } else {
        print("notice: python3 not found: skipping the ONNX Runtime check of exported models")
    }
    return nil
}

@Suite struct ONNXExportTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private static func network(_ cell: RecurrentCell, layers: Int, bidirectional: Bool = false,
                                input: Int, hidden: Int, seed: UInt64, resetAfter: Bool = true,
                                on backend: any Backend) throws -> RecurrentNetwork {
        let rng = RandomSource(seed: seed)
        switch cell {
        case .lstm:
            return try LSTM(inputSize: input, hiddenSize: hidden, numLayers: layers, bidirectional: bidirectional,
                            on: backend, rng: rng)
        case .gru:
            return try GRU(inputSize: input, hiddenSize: hidden, numLayers: layers, bidirectional: bidirectional,
                           on: backend, rng: rng, variants: RecurrentVariants(resetAfter: resetAfter))
        case .rnnTanh, .rnnRelu:
            return try RNN(inputSize: input, hiddenSize: hidden, numLayers: layers, nonlinearity: cell == .rnnTanh ? .tanh : .relu,
                           bidirectional: bidirectional, on: backend, rng: rng)
        }
    }

    /// A recurrent stack alone: output, and with `lengths` also sequence_lens, initial and final states.
    private static func recurrentCase(_ cell: RecurrentCell, layers: Int, bidirectional: Bool, batchFirst: Bool = false,
                                      lengths: [Int]? = nil, resetAfter: Bool = true, on backend: any Backend) throws -> ONNXCase {
        let (t, b, i, h) = (7, lengths?.count ?? 3, 4, 5)
        let d = bidirectional ? 2 : 1
        let network = try network(cell, layers: layers, bidirectional: bidirectional, input: i, hidden: h,
                                  seed: 11, resetAfter: resetAfter, on: backend)
        network.eval()
        var random = TestRandom(seed: 3)
        let x = random.uniform(count: t * b * i)
        let inputShape = batchFirst ? [b, t, i] : [t, b, i]
        let name = "\(cell.rawValue)_l\(layers)_d\(d)" + (batchFirst ? "_batch_first" : "") + (lengths == nil ? "" : "_lengths_states")
            + (resetAfter ? "" : "_reset_before")
        var c = ONNXCase(name: name, model: network)
        let layout: SequenceLayout = batchFirst ? .batchMajor : .timeMajor
        c.options = ONNXExportOptions(layout: layout)
        c.inputs = [("input", inputShape, .float(x))]
        let outputShape = batchFirst ? [b, t, d * h] : [t, b, d * h]
        guard let lengths else {
            let y = try network(SequenceBatch(Tensor(shape: inputShape, values: x, on: backend), layout: layout))
            c.outputs = [("output", outputShape, try y.output.data.toArray())]
            return c
        }
        let stateShape = [layers * d, b, h]
        let h0 = random.uniform(count: layers * d * b * h), c0 = random.uniform(count: layers * d * b * h)
        let state = RecurrentState(hidden: try Tensor(shape: stateShape, values: h0, on: backend),
                                   cell: cell == .lstm ? try Tensor(shape: stateShape, values: c0, on: backend) : nil)
        let y = try network(SequenceBatch(Tensor(shape: inputShape, values: x, on: backend), layout: layout, lengths: lengths),
                            initialState: state)
        c.options = ONNXExportOptions(sequenceLengths: true, states: true, layout: layout)
        c.inputs += [("sequence_lens", [b], .int32(lengths.map(Int32.init))), ("h0", stateShape, .float(h0))]
        c.outputs = [("output", outputShape, try y.output.data.toArray()), ("h_n", stateShape, try y.state.hidden.toArray())]
        if cell == .lstm {
            c.inputs.append(("c0", stateShape, .float(c0)))
            c.outputs.append(("c_n", stateShape, try #require(y.state.cell).toArray()))
        }
        return c
    }

    /// Embedding + LSTM + last step + linear classifier over token indices (T, B) or (B, T), padded or not.
    private static func classifierCase(lengths: [Int]? = nil, layout: SequenceLayout = .timeMajor,
                                       on backend: any Backend) throws -> ONNXCase {
        let (t, b, v, e, h, classes) = (6, lengths?.count ?? 4, 11, 8, 7, 3)
        let rng = RandomSource(seed: 21)
        let model = try Sequential([
            ("embedding", Embedding(v, e, on: backend, rng: rng)),
            ("lstm", LSTM(inputSize: e, hiddenSize: h, numLayers: 2, on: backend, rng: rng)),
            ("last", LastTimeStep()),
            ("fc", Linear(h, classes, on: backend, rng: rng)),
        ])
        model.eval()
        var random = TestRandom(seed: 4)
        let tokens = (0..<(t * b)).map { _ in random.int(in: 0..<v) }
        let shape = layout == .batchMajor ? [b, t] : [t, b]
        let batch = try SequenceBatch(Tensor(shape: shape, values: tokens.map(Float.init), on: backend), layout: layout, lengths: lengths)
        let logits = try model.forward(batch).data
        let name = "embedding_lstm_classifier" + (layout == .batchMajor ? "_batch_major" : "") + (lengths == nil ? "" : "_lengths")
        var c = ONNXCase(name: name, model: model)
        c.options = ONNXExportOptions(sequenceLengths: lengths != nil, layout: layout)
        c.inputs = [("input", shape, .int64(tokens.map(Int64.init)))]
        if let lengths { c.inputs.append(("sequence_lens", [b], .int32(lengths.map(Int32.init)))) }
        c.outputs = [("output", [b, classes], try logits.toArray())]
        return c
    }

    /// Bidirectional GRU + attention (dot-product or additive) + linear head, optionally over padded sequences.
    private static func attentionCase(_ kind: Attention.Kind, lengths: [Int]?, on backend: any Backend) throws -> ONNXCase {
        let (t, b, i, h, classes) = (6, lengths?.count ?? 3, 3, 4, 2)
        let rng = RandomSource(seed: 31)
        let encoder = try GRU(inputSize: i, hiddenSize: h, bidirectional: true, on: backend, rng: rng)
        let attention = try Attention(featureSize: 2 * h, kind: kind, on: backend, rng: rng)
        let model = try Sequential([("encoder", encoder), ("attention", attention), ("fc", Linear(2 * h, classes, on: backend, rng: rng))])
        model.eval()
        var random = TestRandom(seed: 6)
        let x = random.uniform(count: t * b * i)
        let logits = try model.forward(SequenceBatch(Tensor(shape: [t, b, i], values: x, on: backend), lengths: lengths)).data
        let kindName = kind == .dotProduct ? "dot" : "additive"
        var c = ONNXCase(name: "gru_attention_\(kindName)" + (lengths == nil ? "" : "_lengths"), model: model)
        c.options = ONNXExportOptions(sequenceLengths: lengths != nil)
        c.inputs = [("input", [t, b, i], .float(x))]
        if let lengths { c.inputs.append(("sequence_lens", [b], .int32(lengths.map(Int32.init)))) }
        c.outputs = [("output", [b, classes], try logits.toArray())]
        return c
    }

    @Test func onnxRuntimeGivesOurOutputs() throws {
        let backend = TestDevice.backend
        guard let python = checkPython(root: Self.root) else { return }
        var cases: [ONNXCase] = []
        for cell in RecurrentCell.allCases {
            for (layers, bidirectional) in [(1, false), (2, false), (2, true)] {
                cases.append(try Self.recurrentCase(cell, layers: layers, bidirectional: bidirectional, on: backend))
            }
            cases.append(try Self.recurrentCase(cell, layers: 2, bidirectional: true, lengths: [7, 3, 5, 1], on: backend))
        }
        cases.append(try Self.recurrentCase(.lstm, layers: 1, bidirectional: false, lengths: [4, 7, 2], on: backend))
        cases.append(try Self.recurrentCase(.gru, layers: 2, bidirectional: true, batchFirst: true, on: backend))
        // The reset gate before the recurrent product: ONNX's GRU with linear_before_reset = 0.
        cases.append(try Self.recurrentCase(.gru, layers: 2, bidirectional: true, resetAfter: false, on: backend))
        cases.append(try Self.recurrentCase(.gru, layers: 1, bidirectional: false, lengths: [7, 2, 5], resetAfter: false,
                                            on: backend))
        cases.append(try Self.classifierCase(on: backend))
        cases.append(try Self.classifierCase(lengths: [6, 3, 1, 4], on: backend))
        cases.append(try Self.classifierCase(lengths: [2, 6, 5], layout: .batchMajor, on: backend))
        cases.append(try Self.attentionCase(.dotProduct, lengths: nil, on: backend))
        cases.append(try Self.attentionCase(.dotProduct, lengths: [6, 2, 4, 5], on: backend))
        cases.append(try Self.attentionCase(.additive(attentionSize: 5), lengths: [3, 6, 1], on: backend))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-check-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for c in cases { try c.write(to: directory.appendingPathComponent(c.name)) }

        let (status, report) = try runProcess(python, [Self.root.appendingPathComponent("scripts/onnx_check.py").path]
            + cases.map { directory.appendingPathComponent($0.name).path })
        print(report)
        #expect(status == 0, "ONNX Runtime disagrees or the checker failed:\n\(report)")
        #expect(report.contains("\(cases.count) of \(cases.count) exported models match"), "\(report)")
    }

    @Test func projectionsAreRefusedNamingTheLayer() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 1)
        let model = try Sequential([("encoder", LSTM(inputSize: 3, hiddenSize: 6, projSize: 2, on: backend, rng: rng)),
                                    ("last", LastTimeStep())])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("refused-\(UUID().uuidString).onnx")
        #expect {
            try model.exportONNX(to: url)
        } throws: { error in
            guard case let ONNXExportError.unsupportedLayer(layer, reason) = error else { return false }
            return layer == "encoder" && reason.contains("projections")
        }
        #expect(!FileManager.default.fileExists(atPath: url.path), "a refused export writes no file")
    }
}
