// The LSTM forget-gate bias option: where its value lands in PyTorch's two biases, what it leaves
// alone, and the stacks it is refused for.
import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct ForgetBiasTests {
    /// Every layer and direction (also projected) gets b_f in `bias_ih`'s forget block [H, 2H) and 0 in
    /// `bias_hh`'s, so PyTorch's b_ih + b_hh is b_f exactly; every other value is the one the same seed
    /// draws without the option.
    @Test(arguments: [(1, false, 0), (2, true, 0), (2, false, 3)])
    func forgetBlocksSumToTheBiasAndNothingElseChanges(layers: Int, bidirectional: Bool, projSize: Int) throws {
        let backend = TestDevice.backend
        let h = 5
        func make(_ forgetBias: Float?) throws -> [String: [Float]] {
            let lstm = try LSTM(inputSize: 3, hiddenSize: h, numLayers: layers, projSize: projSize, bidirectional: bidirectional,
                                on: backend, rng: RandomSource(seed: 9), variants: RecurrentVariants(forgetBias: forgetBias))
            return try Dictionary(uniqueKeysWithValues: lstm.namedParameters.map { ($0.name, try $0.parameter.value.toArray()) })
        }
        let plain = try make(nil), biased = try make(1.5)
        #expect(plain.keys.sorted() == biased.keys.sorted())
        #expect(plain.keys.filter { $0.hasPrefix("bias_ih") }.count == layers * (bidirectional ? 2 : 1))
        for (name, values) in biased {
            let forget = h..<(2 * h)
            if name.hasPrefix("bias_ih") || name.hasPrefix("bias_hh") {
                let expected: Float = name.hasPrefix("bias_ih") ? 1.5 : 0
                #expect(values[forget].allSatisfy { $0 == expected }, "\(name): \(values[forget])")
                for gate in [0..<h, (2 * h)..<(4 * h)] {
                    #expect(Array(values[gate]) == Array(plain[name]![gate]), "\(name) outside the forget gate")
                }
            } else {
                #expect(values == plain[name], "\(name) changed")
            }
        }
    }

    /// The forget gate's pre-activation at zero input and zero state is b_ih + b_hh = b_f: after one
    /// step from c_0 = c the cell is σ(b_f)·c + i·g, with i·g known from the same pass with c_0 = 0.
    @Test func theForgetGateSeesTheBias() throws {
        let backend = TestDevice.backend
        let (h, b) = (4, 2)
        let lstm = try LSTM(inputSize: 3, hiddenSize: h, on: backend, rng: RandomSource(seed: 2),
                            variants: RecurrentVariants(forgetBias: 2))
        let input = try Tensor.zeros([1, b, 3], on: backend)
        func finalCell(_ c0: Float) throws -> [Float] {
            let start = RecurrentState(hidden: try Tensor.zeros([1, b, h], on: backend),
                                       cell: try Tensor.zeros([1, b, h], on: backend, value: c0))
            return try #require(try lstm(SequenceBatch(input), initialState: start).state.cell).toArray()
        }
        let without = try finalCell(0), with = try finalCell(1)
        let forget = 1 / (1 + Float(exp(-2.0)))
        for k in without.indices {
            #expect(abs((with[k] - without[k]) - forget) < 1e-6, "unit \(k): \(with[k] - without[k]) vs σ(2) = \(forget)")
        }
    }

    @Test func isRefusedWhereItMakesNoSense() throws {
        let backend = TestDevice.backend
        let rng = RandomSource(seed: 1)
        let gru = #expect(throws: RecurrentError.self) {
            try GRU(inputSize: 2, hiddenSize: 3, on: backend, rng: rng, variants: RecurrentVariants(forgetBias: 1))
        }
        #expect(gru.map { "\($0)" }?.contains("only an LSTM has a forget gate") == true)
        #expect(throws: RecurrentError.self) {
            try RNN(inputSize: 2, hiddenSize: 3, on: backend, rng: rng, variants: RecurrentVariants(forgetBias: 1))
        }
        let nan = #expect(throws: RecurrentError.self) {
            try LSTM(inputSize: 2, hiddenSize: 3, on: backend, rng: rng, variants: RecurrentVariants(forgetBias: .nan))
        }
        #expect(nan.map { "\($0)" }?.contains("finite") == true)
    }
}
