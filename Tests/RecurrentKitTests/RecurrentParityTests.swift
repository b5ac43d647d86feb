// Parity of RNN / LSTM / GRU stacks with PyTorch's nn.RNN / nn.LSTM / nn.GRU, forward and backward.
// T = time steps (5), B = batch (3), I = input size (4), H = hidden size (6), L = layers (1, 2).
// Fixtures: recurrent_{cell}_l{L}_{h0|zero}.json; the loss PyTorch differentiated is
// sum(output ⊙ grad_output) + sum(h_n ⊙ grad_h_n) [+ sum(c_n ⊙ grad_c_n)], so the gradients of
// output and final states are exactly grad_output, grad_h_n, grad_c_n.

import RecurrentKit
import Testing
import TestSupport

extension Fixture {
    /// The recurrent stack `meta` describes (`cell`, `input_size`, `hidden_size`, `num_layers`),
    /// with throwaway initial weights: tests load PyTorch's over them.
    func makeRecurrentNetwork(on backend: any Backend, rng: RandomSource) throws -> RecurrentNetwork {
        let (i, h, l) = (try int("input_size"), try int("hidden_size"), try int("num_layers"))
        switch RecurrentCell(rawValue: try string("cell")) {
        case .rnnTanh?: return try RNN(inputSize: i, hiddenSize: h, numLayers: l, nonlinearity: .tanh, on: backend, rng: rng)
        case .rnnRelu?: return try RNN(inputSize: i, hiddenSize: h, numLayers: l, nonlinearity: .relu, on: backend, rng: rng)
        case .lstm?: return try LSTM(inputSize: i, hiddenSize: h, numLayers: l, on: backend, rng: rng)
        case .gru?: return try GRU(inputSize: i, hiddenSize: h, numLayers: l, on: backend, rng: rng)
        case nil: throw FixtureError("\(name): unknown cell '\(try string("cell"))'")
        }
    }
}

@Suite("Recurrent layers match PyTorch")
struct RecurrentParityTests {
    static let fixtureNames: [String] = ["rnn_tanh", "rnn_relu", "lstm", "gru"].flatMap { cell in
        [1, 2].flatMap { layers in ["h0", "zero"].map { "recurrent_\(cell)_l\(layers)_\($0).json" } }
    }

    /// The stack built from `fixture`, with PyTorch's weights loaded by their PyTorch names.
    private static func loadNetwork(_ fixture: Fixture, on backend: any Backend) throws -> RecurrentNetwork {
        let network = try fixture.makeRecurrentNetwork(on: backend, rng: RandomSource(seed: 7))
        // Exactly the fixture's parameters (weight_ih_l0, bias_hh_l1, …): strict loading checks the names.
        let names = fixture.tensorNames.filter { $0.hasPrefix("weight_") || $0.hasPrefix("bias_") }
        try network.loadStateDict(Dictionary(uniqueKeysWithValues: try names.map { ($0, try fixture.host($0)) }), strict: true)
        for (name, p) in network.namedParameters {
            #expect(p.shape == (try fixture.tensor(name).shape), "\(fixture.name): shape of \(name)")
        }
        return network
    }

    /// The initial state the fixture passed to PyTorch, or nil where PyTorch used zeros.
    private static func initialState(_ fixture: Fixture, on backend: any Backend) throws -> RecurrentState? {
        guard try fixture.bool("has_initial_state") else {
            #expect(!fixture.has("h0"), "\(fixture.name): h0 present without has_initial_state")
            return nil
        }
        return RecurrentState(hidden: try fixture.upload("h0", on: backend),
                              cell: fixture.has("c0") ? try fixture.upload("c0", on: backend) : nil)
    }

    @Test("forward and backward", arguments: fixtureNames)
    func forwardAndBackward(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let network = try Self.loadNetwork(fixture, on: backend)
        let isLSTM = network.cell == .lstm
        let (t, b, h, l) = (try fixture.int("seq_len"), try fixture.int("batch"), try fixture.int("hidden_size"),
                            try fixture.int("num_layers"))

        // Forward.
        let input = try fixture.upload("input", on: backend)                                   // (T, B, I)
        let gradState = RecurrentState(hidden: try fixture.upload("grad_h_n", on: backend),
                                       cell: isLSTM ? try fixture.upload("grad_c_n", on: backend) : nil)
        let grads = try forwardBackward(network, SequenceBatch(input), initialState: Self.initialState(fixture, on: backend),
                                        gradOutput: fixture.upload("grad_output", on: backend), gradState: gradState)
        let result = grads.result
        #expect(result.output.data.shape == [t, b, h])
        #expect(result.state.hidden.shape == [l, b, h])
        expectClose(try result.output.data.toArray(), try fixture.data("output"), "\(file) output")
        expectClose(try result.state.hidden.toArray(), try fixture.data("h_n"), "\(file) h_n")
        if isLSTM {
            let c = try #require(result.state.cell, "\(file): LSTM returned no final cell state")
            #expect(c.shape == [l, b, h])
            expectClose(try c.toArray(), try fixture.data("c_n"), "\(file) c_n")
        } else {
            #expect(result.state.cell == nil, "\(file): \(network.cell) returned a cell state")
        }

        // Backward from the gradients of output and final states; parameter gradients start at zero.
        let gradInput = try #require(grads.input)
        #expect(gradInput.shape == input.shape)
        expectClose(try gradInput.toArray(), try fixture.data("grad.input"), "\(file) grad.input")
        if fixture.has("grad.h0") {
            let state = try #require(grads.state, "\(file): no initial-state gradient although h0 was given")
            expectClose(try state.hidden.toArray(), try fixture.data("grad.h0"), "\(file) grad.h0")
            if fixture.has("grad.c0") {
                let c = try #require(state.cell, "\(file): no grad.c0 although c0 was given")
                expectClose(try c.toArray(), try fixture.data("grad.c0"), "\(file) grad.c0")
            }
        } else {
            #expect(grads.state == nil, "\(file): initial-state gradient without an initial state")
        }
        for (name, p) in network.namedParameters {
            expectClose(try p.gradient.toArray(), try fixture.data("grad." + name), "\(file) grad.\(name)")
        }
    }

    /// Parameter gradients accumulate over backward passes (PyTorch's `.grad`) until zeroed,
    /// and `zeroGradients` really restarts them.
    @Test("gradients accumulate until zeroed", arguments: ["recurrent_lstm_l2_h0.json", "recurrent_gru_l1_zero.json"])
    func gradientsAccumulate(_ file: String) throws {
        let fixture = try Fixture(file)
        let backend = TestDevice.backend
        let network = try Self.loadNetwork(fixture, on: backend)
        let input = try fixture.upload("input", on: backend)
        let gradState = RecurrentState(hidden: try fixture.upload("grad_h_n", on: backend),
                                       cell: fixture.has("grad_c_n") ? try fixture.upload("grad_c_n", on: backend) : nil)
        func pass() throws {
            _ = try forwardBackward(network, SequenceBatch(input), initialState: Self.initialState(fixture, on: backend),
                                    gradOutput: fixture.upload("grad_output", on: backend), gradState: gradState)
        }
        try pass()
        try pass()
        for (name, p) in network.namedParameters {
            expectClose(try p.gradient.toArray(), try fixture.data("grad." + name).map { 2 * $0 }, "\(file) 2 × grad.\(name)")
        }
        try network.zeroGradients()
        try pass()
        for (name, p) in network.namedParameters {
            expectClose(try p.gradient.toArray(), try fixture.data("grad." + name), "\(file) grad.\(name) after zeroGradients")
        }
    }
}
