// Single cells (LSTMCell, GRUCell, RNNCell): PyTorch's names and layouts, the same steps as a
// one-layer stack, and a model that calls one LSTMCell at two places trained 20 Adam steps with
// clipping against PyTorch (cell_shared_lstm.json: losses, gradient norms, first-step gradients,
// final weights). B = batch, I = input size, H = hidden size, T1/T2 = the two loops' lengths.

import RecurrentKit
import Testing
import TestSupport

@Suite struct CellTests {
    @Test func parametersFollowPyTorch() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 1)
        let cells: [(any Module, Int)] = [(try LSTMCell(inputSize: 3, hiddenSize: 4, on: backend, rng: rng), 4),
                                          (try GRUCell(inputSize: 3, hiddenSize: 4, on: backend, rng: rng), 3),
                                          (try RNNCell(inputSize: 3, hiddenSize: 4, on: backend, rng: rng), 1)]
        for (cell, gates) in cells {
            #expect(cell.namedParameters.map(\.name) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
            #expect(cell.namedParameters.map(\.parameter.shape) == [[gates * 4, 3], [gates * 4, 4], [gates * 4], [gates * 4]])
        }
        let lstm = try LSTMCell(inputSize: 3, hiddenSize: 4, on: backend, rng: rng)
        let error = try #require(throws: RecurrentError.self) { try lstm(Tensor.zeros([2, 4], on: backend)) }
        #expect("\(error)".contains("(B, 3)") && "\(error)".contains("[2, 4]"), "\(error)")
    }

    /// A cell stepped T times equals a one-layer stack with the same weights stepped T times.
    @Test(arguments: [RecurrentCell.lstm, .gru, .rnnRelu])
    func cellEqualsAOneLayerStack(cell: RecurrentCell) throws {
        let backend = TestDevice.backend
        let (t, b, i, h) = (4, 3, 2, 5)
        let rng = RandomSource(seed: 6)
        let stack: RecurrentNetwork = switch cell {
        case .lstm: try LSTM(inputSize: i, hiddenSize: h, on: backend, rng: rng)
        case .gru: try GRU(inputSize: i, hiddenSize: h, on: backend, rng: rng)
        default: try RNN(inputSize: i, hiddenSize: h, nonlinearity: .relu, on: backend, rng: rng)
        }
        let weights = try stack.stateDict()
        var random = TestRandom(seed: 7)
        let x = try random.tensor([t, b, i], on: backend)
        let pass = try stack(SequenceBatch(x))
        var outputs: [Float] = []
        switch cell {
        case .lstm:
            let one = try LSTMCell(inputSize: i, hiddenSize: h, on: backend, rng: RandomSource(seed: 1))
            try one.loadStateDict(Dictionary(uniqueKeysWithValues: weights.map { ($0.key.replacingOccurrences(of: "_l0", with: ""), $0.value) }))
            var state: (hidden: Tensor, cell: Tensor)? = nil
            for step in 0..<t {
                state = try one(x.row(step), state: state)
                outputs += try state!.hidden.toArray()
            }
            expectClose(try state!.cell.toArray(), try #require(pass.state.cell).toArray(), "LSTMCell final c")
        default:
            let one: (Tensor, Tensor?) throws -> Tensor
            if cell == .gru {
                let g = try GRUCell(inputSize: i, hiddenSize: h, on: backend, rng: RandomSource(seed: 1))
                try g.loadStateDict(Dictionary(uniqueKeysWithValues: weights.map { ($0.key.replacingOccurrences(of: "_l0", with: ""), $0.value) }))
                one = { try g($0, hidden: $1) }
            } else {
                let r = try RNNCell(inputSize: i, hiddenSize: h, nonlinearity: .relu, on: backend, rng: RandomSource(seed: 1))
                try r.loadStateDict(Dictionary(uniqueKeysWithValues: weights.map { ($0.key.replacingOccurrences(of: "_l0", with: ""), $0.value) }))
                one = { try r($0, hidden: $1) }
            }
            var hidden: Tensor? = nil
            for step in 0..<t {
                hidden = try one(x.row(step), hidden)
                outputs += try hidden!.toArray()
            }
        }
        expectClose(outputs, try pass.output.data.toArray(), "\(cell.rawValue) cell = one-layer stack")
    }

    /// One LSTMCell at two places (over x1, then on over x2), a Linear head, MSE, Adam with norm
    /// clipping: 20 steps against PyTorch.
    @Test func oneCellAtTwoPlacesMatchesPyTorch() throws {
        let fixture = try Fixture("cell_shared_lstm.json")
        let backend = TestDevice.backend
        let (i, h, o) = (try fixture.int("input_size"), try fixture.int("hidden_size"), try fixture.int("output_size"))
        let rng = RandomSource(seed: 1)
        let cell = try LSTMCell(inputSize: i, hiddenSize: h, on: backend, rng: rng)
        let fc = try Linear(h, o, on: backend, rng: rng)
        let initial = try fixture.stateDict(prefix: "initial.")
        try cell.loadStateDict(initial.filter { $0.key.hasPrefix("cell.") }.reduce(into: [:]) { $0[String($1.key.dropFirst(5))] = $1.value })
        try fc.loadStateDict(initial.filter { $0.key.hasPrefix("fc.") }.reduce(into: [:]) { $0[String($1.key.dropFirst(3))] = $1.value })
        let parameters = cell.parameters + fc.parameters
        let optimizer = try Adam(parameters, learningRate: fixture.float("lr"))
        let (x1, x2, y) = (try fixture.upload("x1", on: backend), try fixture.upload("x2", on: backend), try fixture.upload("target", on: backend))
        let loss = MSELoss()
        var losses: [Float] = [], norms: [Float] = []
        for step in 0..<(try fixture.int("steps")) {
            try optimizer.zeroGradients()
            let tape = Tape()
            var state: (hidden: Tensor, cell: Tensor)? = nil
            for t in 0..<x1.shape[0] { state = try cell(x1.row(t), state: state, tape: tape) }   // place 1
            for t in 0..<x2.shape[0] { state = try cell(x2.row(t), state: state, tape: tape) }   // place 2
            let prediction = try fc(try #require(state).hidden, tape: tape)
            let value = try loss.forward(prediction, y)
            try tape.backward(prediction, gradient: loss.backward())
            if step == 0 {
                for (name, p) in cell.namedParameters { expectClose(try p.gradient.toArray(), try fixture.data("grad.cell." + name), "grad cell.\(name)") }
                for (name, p) in fc.namedParameters { expectClose(try p.gradient.toArray(), try fixture.data("grad.fc." + name), "grad fc.\(name)") }
            }
            norms.append(try GradientClipping.clipNorm(parameters, maxNorm: fixture.float("clip_norm")).value())
            try optimizer.step()
            losses.append(try value.item())
        }
        expectClose(losses, try fixture.data("losses"), "losses")
        expectClose(norms, try fixture.data("grad_norms"), "gradient norms")
        for (name, p) in cell.namedParameters { expectClose(try p.value.toArray(), try fixture.data("final.cell." + name), "final cell.\(name)") }
        for (name, p) in fc.namedParameters { expectClose(try p.value.toArray(), try fixture.data("final.fc." + name), "final fc.\(name)") }
    }
}
