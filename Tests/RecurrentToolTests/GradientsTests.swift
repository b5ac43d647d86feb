// `recurrent gradients`: the command end to end (table, SVG, validation) and the input-gradient
// measurement behind it (against finite differences, and what it says about each cell).
import Foundation
import RecurrentKit
@testable import RecurrentTool
import Testing
import TestSupport
#if canImport(FoundationXML)
import FoundationXML
#endif

/// `recurrent gradients` and its measurement.
@Suite struct GradientsTests {
    /// Parses `recurrent gradients` with small sizes, the device under test and `extra`, and runs it.
    private static func runGradients(output: URL, _ extra: [String] = []) throws {
        var command = try RecurrentCommand.parseAsRoot(
            ["gradients", "--length", "12", "--hidden-size", "8", "--batch-size", "4", "--device", TestDevice.specification,
             "--output", output.path] + extra)
        try command.run()
    }

    /// The number of non-overlapping occurrences of `needle` in `text`.
    private static func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    @Test func writesValidSVGWithOnePolylinePerCell() throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (cells, count) in [(nil, 3), ("gru,rnn-relu", 2)] as [(String?, Int)] {
            let url = dir.appendingPathComponent("plot-\(count).svg")
            try Self.runGradients(output: url, cells.map { ["--cells", $0] } ?? [])
            let data = try Data(contentsOf: url)
            #expect(XMLParser(data: data).parse(), "not well-formed XML: \(url.path)")
            let svg = try #require(String(data: data, encoding: .utf8))
            #expect(svg.contains("<svg"))
            #expect(Self.occurrences(of: "<polyline", in: svg) == count)
        }
    }

    @Test func runsAfterTrainingSteps() throws {
        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("trained.svg")
        try Self.runGradients(output: url, ["--train-steps", "2", "--clip-norm", "0.5", "--initialization", "orthogonal"])
        #expect(XMLParser(data: try Data(contentsOf: url)).parse())
    }

    @Test(arguments: [
        (["--cells", "foo"], "foo"), (["--cells", "rnn,lstm,rnn"], "twice"), (["--cells", ","], "at least one"),
        (["--length", "1"], "--length"), (["--batch-size", "0"], "--batch-size"), (["--initialization", "he"], "he"),
        (["--train-steps=-1"], "--train-steps"), (["--clip-norm=-1"], "--clip-norm"),
    ])
    func rejectsBadInput(arguments: [String], mentions: String) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UUID().uuidString).svg")
        let error = #expect(throws: (any Error).self) { try Self.runGradients(output: url, arguments) }
        let message = error.map { RecurrentCommand.message(for: $0) } ?? ""
        #expect(message.contains("expected") && message.contains(mentions), "\(arguments): \(message)")
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func cellNamesAreCanonical() throws {
        #expect(try Gradients.parseCells(" LSTM, rnn_tanh ,rnn-relu,") == ["lstm", "rnn", "rnn-relu"])
    }

    @Test func tableDistancesAreLogSpacedUpToTheLongest() {
        #expect(Gradients.distances(length: 2) == [0, 1])
        #expect(Gradients.distances(length: 12) == [0, 1, 2, 5, 10, 11])
        #expect(Gradients.distances(length: 100) == [0, 1, 2, 5, 10, 20, 50, 99])
        #expect(Gradients.distances(length: 101) == [0, 1, 2, 5, 10, 20, 50, 100])
        #expect(Gradients.distances(length: 1000) == [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 999])
    }

    @Test(arguments: [2, 3, 17])
    func addingBatchMarksOneStepInEachHalf(length: Int) {
        let batch = 9
        var stream = PhiloxStream(seed: 4, stream: Gradients.measurementStream)
        let (input, target) = Gradients.addingBatch(length: length, batchSize: batch, stream: &stream)
        #expect(input.count == length * batch * 2 && target.count == batch)
        for b in 0..<batch {
            let values = (0..<length).map { input[($0 * batch + b) * 2] }
            let marks = (0..<length).map { input[($0 * batch + b) * 2 + 1] }
            let marked = marks.indices.filter { marks[$0] == 1 }
            #expect(values.allSatisfy { $0 >= 0 && $0 < 1 })
            #expect(marks.allSatisfy { $0 == 0 || $0 == 1 })
            #expect(marked.count == 2 && marked[0] < length / 2 && marked[1] >= length / 2)
            #expect(target[b] == values[marked[0]] + values[marked[1]])
        }
    }

    /// The measured norms are those of the model's true input gradient: the directional derivative
    /// of the loss along x_t's gradient, by central differences, equals ‖∂L/∂x_t‖.
    @Test(arguments: ["rnn", "lstm", "gru"])
    func inputGradientNormsMatchFiniteDifferences(cell: String) throws {
        let backend = TestDevice.backend
        let (t, b, h) = (6, 4, 8)
        let rng = RandomSource(seed: 5)
        let model = try Sequential([
            ("rnn", makeRecurrent(cell: cell, inputSize: 2, hiddenSize: h, layers: 1, dropout: 0, on: backend, rng: rng)),
            ("last", LastTimeStep()), ("fc", Linear(h, 1, on: backend, rng: rng)),
        ])
        var stream = PhiloxStream(seed: 5, stream: Gradients.measurementStream)
        let (x, y) = Gradients.addingBatch(length: t, batchSize: b, stream: &stream)
        let input = try Tensor(shape: [t, b, 2], values: x, on: backend)
        let target = try Tensor(shape: [b, 1], values: y, on: backend)
        let norms = try Gradients.inputGradientNorms(of: model, input: input, target: target)
        #expect(norms.count == t)

        let loss = MSELoss()
        let tape = Tape()
        tape.watch(input)
        let prediction = try model.forward(SequenceBatch(input), tape: tape)
        _ = try loss.forward(prediction, target)
        try tape.backward(prediction.data, gradient: loss.backward())
        let gradient = try #require(try tape.gradient(of: input)).toArray()
        func lossAt(_ values: [Float]) throws -> Double {
            Double(try loss.forward(model.forward(SequenceBatch(Tensor(shape: [t, b, 2], values: values, on: backend))), target).item())
        }
        let stride = b * 2, epsilon: Float = 1e-2
        for step in [t - 1, t - 2] {
            let g = gradient[(step * stride)..<((step + 1) * stride)]
            let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            var plus = x, minus = x
            for (k, v) in g.enumerated() {
                plus[step * stride + k] += epsilon * Float(Double(v) / norm)
                minus[step * stride + k] -= epsilon * Float(Double(v) / norm)
            }
            let numeric = (try lossAt(plus) - lossAt(minus)) / (2 * Double(epsilon))
            #expect(abs(Double(norms[step]) - norm) <= 1e-6 * norm)
            #expect(abs(numeric - norm) <= 0.02 * norm + 1e-5, "\(cell) step \(step): finite difference \(numeric), measured \(norm)")
        }
    }

    /// What the measurement shows at initialisation, 40 steps from the loss (seeded, so exact; the
    /// margins are orders of magnitude, so other devices agree):
    /// - a tanh RNN with PyTorch's U(±1/√H) recurrent weights (spectral radius ≈ 1/√3) vanishes;
    /// - with Xavier weights (variance 1/H, spectral radius ≈ 1, tanh′ ≈ 1 for these small inputs) its
    ///   gradient persists, far above the LSTM's;
    /// - an LSTM's forget gate starts near σ(0) = ½ (no forget-gate bias of 1), so its gradient at
    ///   initialisation vanishes under either initialisation.
    @Test func vanillaRNNGradientsDependOnTheRecurrentWeightsLSTMOnesVanishAtInitialisation() throws {
        let backend = TestDevice.backend
        func ratio(_ cell: String, _ initialization: String) throws -> Double {
            let experiment = Gradients.Experiment(length: 40, batchSize: 16, hiddenSize: 32, initialization: initialization, seed: 1)
            let m = try experiment.measure(cell: cell, on: backend)
            #expect(m.norms.count == 40)
            #expect(m.norms.allSatisfy { $0.isFinite && $0 > 0 }, "\(cell) \(initialization): \(m.norms)")
            return m.relativeNorms[39]
        }
        let (rnnPyTorch, rnnXavier) = (try ratio("rnn", "pytorch"), try ratio("rnn", "xavier"))
        let (lstmPyTorch, lstmXavier) = (try ratio("lstm", "pytorch"), try ratio("lstm", "xavier"))
        #expect(rnnPyTorch < 1e-6, "tanh RNN, pytorch init: \(rnnPyTorch)")
        #expect(rnnPyTorch < lstmPyTorch, "pytorch init: rnn \(rnnPyTorch), lstm \(lstmPyTorch)")
        #expect(rnnXavier > 1e-3, "tanh RNN, xavier init: \(rnnXavier)")
        #expect(lstmPyTorch < 1e-3 && lstmXavier < 1e-3, "lstm: pytorch \(lstmPyTorch), xavier \(lstmXavier)")
        #expect(lstmXavier < 1e-3 * rnnXavier, "xavier init: rnn \(rnnXavier), lstm \(lstmXavier)")
    }

    /// `--init large` makes a tanh RNN's gradients grow with distance (explode) where PyTorch's
    /// default makes them vanish; the per-step norms before clipping show it, after clipping they
    /// are at most the clip norm.
    @Test func largeInitializationExplodesAndClippingBoundsIt() throws {
        func measure(_ initialization: String) throws -> Gradients.Measurement {
            let experiment = Gradients.Experiment(length: 30, batchSize: 8, hiddenSize: 32, layers: 1, initialization: initialization,
                                                  seed: 1, trainSteps: 4, learningRate: 1e-3, clipNorm: 1)
            return try experiment.measure(cell: "rnn", on: TestDevice.backend)
        }
        let small = try measure("pytorch"), large = try measure("large")
        #expect(small.relativeNorms[29] < 1e-3, "pytorch init: ratio \(small.relativeNorms[29])")
        #expect(large.relativeNorms[29] > 1, "large init: ratio \(large.relativeNorms[29]) should grow with distance")
        #expect(small.stepNorms.count == 4 && large.stepNorms.count == 4)
        #expect(zip(large.stepNorms, small.stepNorms).allSatisfy { $0 > 10 * $1 }, "\(large.stepNorms) against \(small.stepNorms)")
        #expect(large.stepNorms.allSatisfy { Gradients.Measurement.clipped($0, maxNorm: 1) <= 1 })
        #expect(Gradients.Measurement.clipped(0.5, maxNorm: 1) == 0.5)

        let dir = try freshDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("g.svg")
        try Self.runGradients(output: output, ["--init", "large", "--cells", "rnn,gru", "--train-steps", "3", "--clip-norm", "1"])
        // Before and after clipping, per cell.
        #expect(try polylineCount(inSVG: dir.appendingPathComponent("g.steps.svg")) == 4)
    }

    /// A forget-gate bias keeps the LSTM's gradient alive (Jozefowicz et al. 2015): 40 steps from the
    /// loss, b_f = 1 lifts the ratio by orders of magnitude over PyTorch's default bias and b_f = 2
    /// lifts it out of the vanishing range; the other cells are built without it.
    @Test func forgetGateBiasKeepsTheLSTMGradientFromVanishing() throws {
        let backend = TestDevice.backend
        func ratio(_ cell: String, _ forgetBias: Float?) throws -> Double {
            let experiment = Gradients.Experiment(length: 40, batchSize: 16, hiddenSize: 32, forgetBias: forgetBias, seed: 1)
            return try experiment.measure(cell: cell, on: backend).relativeNorms[39]
        }
        let (plain, one, two) = (try ratio("lstm", nil), try ratio("lstm", 1), try ratio("lstm", 2))
        #expect(plain < 1e-5, "lstm, default bias: \(plain)")
        #expect(one > 1e3 * plain, "lstm: default bias \(plain), forget-gate bias 1 \(one)")
        #expect(two > 1e-2, "lstm, forget-gate bias 2: \(two)")
        #expect(try ratio("gru", 2) == ratio("gru", nil))
    }

    @Test func rejectsANonFiniteForgetBias() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UUID().uuidString).svg")
        let error = #expect(throws: (any Error).self) { try Self.runGradients(output: url, ["--forget-bias", "nan"]) }
        let message = error.map { RecurrentCommand.message(for: $0) } ?? ""
        #expect(message.contains("expected") && message.contains("--forget-bias"), "\(message)")
    }
}
