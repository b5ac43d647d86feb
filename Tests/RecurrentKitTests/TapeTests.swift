// Backward that follows the calls made: a layer called twice on one tape sums its gradients as
// two copies of it would; a tensor read twice gets the sum of both reads' gradients; a stack
// stepped T times equals one pass over the sequence, forward and backward.
// T = time steps, B = batch, I = input size, H = hidden size, L = layers.

import RecurrentKit
import Testing
import TestSupport

@Suite struct TapeTests {
    static func gradients(_ module: any Module) throws -> [String: [Float]] {
        try Dictionary(uniqueKeysWithValues: module.namedParameters.map { ($0.name, try $0.parameter.gradient.toArray()) })
    }

    /// One LSTM called on two batches (weight sharing) gets the sum of the gradients two copies
    /// with the same weights get, one batch each.
    @Test func sharedLayerSumsItsGradients() throws {
        let backend = TestDevice.backend
        let (t, b, i, h) = (5, 3, 4, 6)
        func make() throws -> LSTM { try LSTM(inputSize: i, hiddenSize: h, numLayers: 2, on: backend, rng: RandomSource(seed: 8)) }
        var random = TestRandom(seed: 9)
        let x1 = try SequenceBatch(random.tensor([t, b, i], on: backend), lengths: [5, 2, 4])
        let x2 = try SequenceBatch(random.tensor([t, b, i], on: backend))
        let g1 = try random.tensor([t, b, h], on: backend), g2 = try random.tensor([t, b, h], on: backend)

        let shared = try make()
        let tape = Tape()
        let y1 = try shared(x1, tape: tape).output.data, y2 = try shared(x2, tape: tape).output.data
        #expect(tape.count == 2)
        try tape.backward([(y1, g1), (y2, g2)])

        let a = try make(), c = try make()
        _ = try forwardBackward(a, x1, gradOutput: g1, inputGradient: false)
        _ = try forwardBackward(c, x2, gradOutput: g2, inputGradient: false)
        let (sharedGrads, aGrads, cGrads) = (try Self.gradients(shared), try Self.gradients(a), try Self.gradients(c))
        for (name, g) in sharedGrads {
            let expected = zip(aGrads[name]!, cGrads[name]!).map { $0 + $1 }
            expectClose(g, expected, "shared \(name) = Σ of both calls")
        }
    }

    /// A tensor read by two layers gets both gradients, summed; an unwatched input gets none.
    @Test func tensorReadTwiceGetsTheSum() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 3)
        let first = try Linear(4, 2, on: backend, rng: rng), second = try Linear(4, 2, on: backend, rng: rng)
        var random = TestRandom(seed: 4)
        let x = try random.tensor([3, 4], on: backend)
        let gy = try random.tensor([3, 2], on: backend), gz = try random.tensor([3, 2], on: backend)
        let tape = Tape()
        tape.watch(x)
        let y = try first(x, tape: tape), z = try second(x, tape: tape)
        try tape.backward([(y, gy), (z, gz)])
        let dx = try #require(try tape.gradient(of: x)).toArray()
        // dx = gy W1 + gz W2, on the host.
        let (w1, w2, dy, dz) = (try first.weight.value.toArray(), try second.weight.value.toArray(), try gy.toArray(), try gz.toArray())
        var expected = [Float](repeating: 0, count: 12)
        for r in 0..<3 { for k in 0..<4 { for o in 0..<2 { expected[r * 4 + k] += dy[r * 2 + o] * w1[o * 4 + k] + dz[r * 2 + o] * w2[o * 4 + k] } } }
        expectClose(dx, expected, "dL/dx summed over both reads")

        let unwatched = Tape()
        let w = try first(x, tape: unwatched)
        try unwatched.backward(w, gradient: gy)
        #expect(try unwatched.gradient(of: x) == nil)
    }

    /// `step` T times, carrying the states, equals one pass: outputs, final states, and after
    /// backward through the steps (the states chain through the tape), every gradient.
    @Test(arguments: [RecurrentCell.lstm, .gru, .rnnTanh])
    func steppingEqualsOnePass(cell: RecurrentCell) throws {
        let backend = TestDevice.backend
        let (t, b, i, h, l) = (6, 3, 4, 5, 2)
        func make() throws -> RecurrentNetwork {
            let rng = RandomSource(seed: 21)
            switch cell {
            case .lstm: return try LSTM(inputSize: i, hiddenSize: h, numLayers: l, on: backend, rng: rng)
            case .gru: return try GRU(inputSize: i, hiddenSize: h, numLayers: l, on: backend, rng: rng)
            default: return try RNN(inputSize: i, hiddenSize: h, numLayers: l, on: backend, rng: rng)
            }
        }
        var random = TestRandom(seed: 22)
        let xs = random.uniform(count: t * b * i), gs = random.uniform(count: t * b * h)
        let x = try Tensor(shape: [t, b, i], values: xs, on: backend)
        let pass = try make()
        let whole = try forwardBackward(pass, SequenceBatch(x), gradOutput: Tensor(shape: [t, b, h], values: gs, on: backend))

        let stepped = try make()
        let tape = Tape()
        var state: RecurrentState? = nil
        var outputs: [Float] = [], seeds: [(output: Tensor, gradient: Tensor)] = [], inputs: [Tensor] = []
        for step in 0..<t {
            let xt = try Tensor(shape: [b, i], values: Array(xs[(step * b * i)..<((step + 1) * b * i)]), on: backend)
            tape.watch(xt)
            inputs.append(xt)
            let (y, next) = try stepped.step(xt, state: state, tape: tape)
            #expect(y.shape == [b, h] && next.hidden.shape == [l, b, h])
            outputs += try y.toArray()
            seeds.append((y, try Tensor(shape: [b, h], values: Array(gs[(step * b * h)..<((step + 1) * b * h)]), on: backend)))
            state = next
        }
        let label = "\(cell.rawValue) stepped \(t) times"
        expectClose(outputs, try whole.result.output.data.toArray(), "\(label): outputs")
        expectClose(try #require(state).hidden.toArray(), try whole.result.state.hidden.toArray(), "\(label): final h")
        if cell == .lstm {
            expectClose(try #require(state?.cell).toArray(), try #require(whole.result.state.cell).toArray(), "\(label): final c")
        }
        try tape.backward(seeds)
        let gradInput = try inputs.flatMap { try #require(try tape.gradient(of: $0)).toArray() }
        expectClose(gradInput, try #require(whole.input).toArray(), "\(label): input gradient")
        let (passGrads, stepGrads) = (try Self.gradients(pass), try Self.gradients(stepped))
        for (name, g) in stepGrads { expectClose(g, passGrads[name]!, "\(label): grad \(name)") }
    }

    @Test func steppingABidirectionalStackIsRefused() throws {
        let backend = TestDevice.backend
        let gru = try GRU(inputSize: 2, hiddenSize: 3, bidirectional: true, on: backend, rng: RandomSource(seed: 1))
        let error = try #require(throws: RecurrentError.self) { try gru.step(Tensor.zeros([4, 2], on: backend), state: nil) }
        #expect("\(error)".contains("unidirectional"), "\(error)")
        let lstm = try LSTM(inputSize: 2, hiddenSize: 3, on: backend, rng: RandomSource(seed: 1))
        let shape = try #require(throws: RecurrentError.self) { try lstm.step(Tensor.zeros([4, 3], on: backend), state: nil) }
        #expect("\(shape)".contains("(B, 2)") && "\(shape)".contains("[4, 3]"), "\(shape)")
    }
}
