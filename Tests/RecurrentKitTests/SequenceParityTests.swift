// Parity of the sequence features with PyTorch: bidirectional stacks, variable lengths (PyTorch's
// packed sequences, unsorted), batch-first layouts, LSTM projections (proj_size); outputs, final
// states and every gradient.
// Fixtures: sequence_*.json (scripts/generate_fixtures.py --only sequence). The loss PyTorch
// differentiated is Σ output ⊙ grad_output + Σ h_n ⊙ grad_h_n [+ Σ c_n ⊙ grad_c_n].

import RecurrentKit
import Testing
import TestSupport

@Suite("Sequence features match PyTorch")
struct SequenceParityTests {
    static let fixtureNames: [String] =
        ["rnn_tanh", "lstm", "gru"].flatMap { c in [1, 2].map { "sequence_bidirectional_\(c)_l\($0).json" } }
        + ["rnn_tanh", "lstm", "gru"].flatMap { c in ["uni", "bi"].map { "sequence_packed_\(c)_\($0).json" } }
        + ["sequence_batch_first_lstm.json", "sequence_batch_first_gru.json", "sequence_batch_first_packed_gru.json"]
        + ["l1", "l2", "bi"].map { "sequence_proj_lstm_\($0).json" }

    /// The stack the fixture describes, with PyTorch's weights loaded by name (strictly).
    static func network(_ fixture: Fixture, on backend: any Backend) throws -> RecurrentNetwork {
        let (i, h, l) = (try fixture.int("input_size"), try fixture.int("hidden_size"), try fixture.int("num_layers"))
        let bi = try fixture.bool("bidirectional")
        let projSize = fixture.meta["proj_size"] != nil ? try fixture.int("proj_size") : 0
        let rng = RandomSource(seed: 5)
        let network: RecurrentNetwork
        switch try fixture.string("cell") {
        case "rnn_tanh": network = try RNN(inputSize: i, hiddenSize: h, numLayers: l, bidirectional: bi, on: backend, rng: rng)
        case "lstm":
            network = try LSTM(inputSize: i, hiddenSize: h, numLayers: l, projSize: projSize, bidirectional: bi,
                               on: backend, rng: rng)
        case "gru": network = try GRU(inputSize: i, hiddenSize: h, numLayers: l, bidirectional: bi, on: backend, rng: rng)
        case let other: throw FixtureError("\(fixture.name): unexpected cell \(other)")
        }
        let names = fixture.tensorNames.filter { $0.hasPrefix("weight_") || $0.hasPrefix("bias_") }
        try network.loadStateDict(Dictionary(uniqueKeysWithValues: try names.map { ($0, try fixture.host($0)) }), strict: true)
        return network
    }

    @Test("forward and backward", arguments: fixtureNames)
    func forwardAndBackward(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let network = try Self.network(fixture, on: backend)
        let isLSTM = network.cell == .lstm
        let lengths = fixture.has("lengths") ? try fixture.data("lengths").map { Int($0) } : nil
        let initial = try fixture.bool("has_initial_state")
            ? RecurrentState(hidden: try fixture.upload("h0", on: backend), cell: isLSTM ? try fixture.upload("c0", on: backend) : nil)
            : nil

        let input = try fixture.upload("input", on: backend)
        let layout: SequenceLayout = try fixture.bool("batch_first") ? .batchMajor : .timeMajor
        let gradState = RecurrentState(hidden: try fixture.upload("grad_h_n", on: backend),
                                       cell: isLSTM ? try fixture.upload("grad_c_n", on: backend) : nil)
        let grads = try forwardBackward(network, SequenceBatch(input, layout: layout, lengths: lengths), initialState: initial,
                                        gradOutput: fixture.upload("grad_output", on: backend), gradState: gradState)
        let result = grads.result
        #expect(result.output.layout == layout)
        #expect(result.output.data.shape == (try fixture.tensor("output").shape))
        #expect(result.state.hidden.shape == (try fixture.tensor("h_n").shape))
        expectClose(try result.output.data.toArray(), try fixture.data("output"), "\(file) output")
        expectClose(try result.state.hidden.toArray(), try fixture.data("h_n"), "\(file) h_n")
        if isLSTM { expectClose(try #require(result.state.cell).toArray(), try fixture.data("c_n"), "\(file) c_n") }

        let gradInput = try #require(grads.input)
        #expect(gradInput.shape == input.shape)
        expectClose(try gradInput.toArray(), try fixture.data("grad.input"), "\(file) grad.input")
        if fixture.has("grad.h0") {
            let state = try #require(grads.state)
            expectClose(try state.hidden.toArray(), try fixture.data("grad.h0"), "\(file) grad.h0")
            if isLSTM { expectClose(try #require(state.cell).toArray(), try fixture.data("grad.c0"), "\(file) grad.c0") }
        }
        for (name, p) in network.namedParameters {
            expectClose(try p.gradient.toArray(), try fixture.data("grad." + name), "\(file) grad.\(name)")
        }
    }
}
