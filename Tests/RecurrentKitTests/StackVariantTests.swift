// Stack-level variants: goBackwards (Keras's go_backwards) against a plain stack run on each sequence
// reversed within its length, and residual connections (GNMT) against single layers composed by hand,
// forward and backward, with variable lengths, projections and both directions.
// T = time steps, B = batch, I = input size, H = hidden size, P = projection size.
import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct StackVariantTests {
    static let (t, b, i) = (5, 3, 4)
    static let lengths = [5, 2, 4]

    /// A stack of `cell` built from `seed` (the variants draw nothing, so the weights do not depend on them).
    static func make(_ cell: RecurrentCell, layers: Int, projSize: Int = 0, bidirectional: Bool = false, inputSize: Int = i,
                     variants: RecurrentVariants = RecurrentVariants(), seed: UInt64 = 3) throws -> RecurrentNetwork {
        try makeStack(cell, inputSize: inputSize, hiddenSize: 6, layers: layers, projSize: projSize, bidirectional: bidirectional,
                      variants: variants, seed: seed)
    }

    /// (T, B, w) values with each sequence's first `lengths[b]` steps reversed and padded steps kept.
    static func reversedWithinLengths(_ values: [Float], width w: Int) -> [Float] {
        var out = values
        for s in 0..<b {
            for step in 0..<lengths[s] {
                let from = ((lengths[s] - 1 - step) * b + s) * w, to = (step * b + s) * w
                out[to..<(to + w)] = values[from..<(from + w)]
            }
        }
        return out
    }

    /// One recorded pass of `net` over `x` (T, B, ·) with `lengths` and its backward from `gradOutput`:
    /// the outputs, the final states and the input gradient.
    static func pass(_ net: RecurrentNetwork, _ x: Tensor, gradOutput: Tensor) throws
        -> (output: Tensor, state: RecurrentState, gradInput: Tensor) {
        let tape = Tape()
        tape.watch(x)
        let result = try net(SequenceBatch(x, lengths: lengths), tape: tape)
        try tape.backward(result.output.data, gradient: gradOutput)
        return (result.output.data, result.state, try #require(try tape.gradient(of: x)))
    }

    static func gradients(_ net: RecurrentNetwork) throws -> [[Float]] {
        try net.namedParameters.map { try $0.parameter.gradient.toArray() }
    }

    /// Going backwards is the plain stack on each sequence reversed within its length, outputs in
    /// the order read: outputs, final states, input and weight gradients agree bit for bit.
    @Test(arguments: [(RecurrentCell.lstm, 0), (.lstm, 3), (.gru, 0), (.rnnTanh, 0)])
    func goBackwardsIsThePlainStackOnReversedSequences(cell: RecurrentCell, projSize: Int) throws {
        let backend = TestDevice.backend
        let backwards = try Self.make(cell, layers: 2, projSize: projSize, variants: RecurrentVariants(goBackwards: true))
        let plain = try Self.make(cell, layers: 2, projSize: projSize)
        var random = TestRandom(seed: 11)
        let x = random.uniform(count: Self.t * Self.b * Self.i)                  // (T, B, I)
        let width = backwards.outputSize
        var gradOutput = random.uniform(count: Self.t * Self.b * width)           // (T, B, R)
        for s in 0..<Self.b { for step in Self.lengths[s]..<Self.t { for k in 0..<width { gradOutput[(step * Self.b + s) * width + k] = 0 } } }

        let g = try Tensor(shape: [Self.t, Self.b, width], values: gradOutput, on: backend)
        let a = try Self.pass(backwards, Tensor(shape: [Self.t, Self.b, Self.i], values: x, on: backend), gradOutput: g)
        let p = try Self.pass(plain, Tensor(shape: [Self.t, Self.b, Self.i], values: Self.reversedWithinLengths(x, width: Self.i),
                                            on: backend), gradOutput: g)
        #expect(try a.output.toArray() == p.output.toArray())
        #expect(try a.state.hidden.toArray() == p.state.hidden.toArray())
        #expect(try a.state.cell?.toArray() == p.state.cell?.toArray())
        #expect(try a.gradInput.toArray() == Self.reversedWithinLengths(p.gradInput.toArray(), width: Self.i))
        #expect(try Self.gradients(backwards) == Self.gradients(plain))
    }

    /// A residual stack is layer 0, then x_{k+1} = x_k + f_k(x_k), composed here from single layers
    /// with the same weights: outputs, final states, input and weight gradients agree.
    @Test(arguments: [(RecurrentCell.lstm, 0, false), (.lstm, 2, true), (.gru, 0, true), (.rnnTanh, 0, false)])
    func residualStackIsLayersPlusTheirInputs(cell: RecurrentCell, projSize: Int, bidirectional: Bool) throws {
        let backend = TestDevice.backend
        let layers = 3
        let stack = try Self.make(cell, layers: layers, projSize: projSize, bidirectional: bidirectional,
                                  variants: RecurrentVariants(residual: true))
        let d = stack.directions, width = stack.outputSize
        let single = try (0..<layers).map { k in
            try Self.make(cell, layers: 1, projSize: projSize, bidirectional: bidirectional, inputSize: k == 0 ? Self.i : width,
                          seed: 100 + UInt64(k))
        }
        for k in 0..<layers {
            for direction in 0..<d {
                let from = stack.layerParameters[k * d + direction], to = single[k].layerParameters[direction]
                for (source, destination) in [(from.weightIH, to.weightIH), (from.weightHH, to.weightHH), (from.biasIH, to.biasIH),
                                              (from.biasHH, to.biasHH)] + (from.weightHR.map { [($0, to.weightHR!)] } ?? []) {
                    try backend.copy(source.value, to: destination.value)
                }
            }
        }
        var random = TestRandom(seed: 12)
        let x = try Tensor(shape: [Self.t, Self.b, Self.i], values: random.uniform(count: Self.t * Self.b * Self.i), on: backend)
        var gradValues = random.uniform(count: Self.t * Self.b * width)
        for s in 0..<Self.b { for step in Self.lengths[s]..<Self.t { for k in 0..<width { gradValues[(step * Self.b + s) * width + k] = 0 } } }
        let gradOutput = try Tensor(shape: [Self.t, Self.b, width], values: gradValues, on: backend)

        let out = try Self.pass(stack, x, gradOutput: gradOutput)
        // By hand: y_0 = f_0(x), y_k = y_{k−1} + f_k(y_{k−1}), each layer on its own tape.
        var inputs = [x], outputs: [Tensor] = [], tapes: [Tape] = []
        var hidden: [Float] = [], cellState: [Float] = []
        for k in 0..<layers {
            let tape = Tape()
            tape.watch(inputs[k])
            let f = try single[k](SequenceBatch(inputs[k], lengths: Self.lengths), tape: tape)
            var y = f.output.data
            if k > 0 {
                y = try y.copy()
                try backend.axpy(y, alpha: 1, inputs[k])
            }
            hidden += try f.state.hidden.toArray()
            cellState += try f.state.cell?.toArray() ?? []
            tapes.append(tape)
            outputs.append(f.output.data)
            inputs.append(y)
        }
        expectClose(try out.output.toArray(), try inputs[layers].toArray(), absolute: 1e-6, relative: 1e-5, "\(cell) residual output")
        expectClose(try out.state.hidden.toArray(), hidden, absolute: 1e-6, relative: 1e-5, "\(cell) residual final h")
        expectClose(try out.state.cell?.toArray() ?? [], cellState, absolute: 1e-6, relative: 1e-5, "\(cell) residual final c")

        var g = gradOutput   // dL/dy_k
        for k in stride(from: layers - 1, through: 0, by: -1) {
            try tapes[k].backward(outputs[k], gradient: g)
            let through = try #require(try tapes[k].gradient(of: inputs[k])).copy()
            if k > 0 { try backend.axpy(through, alpha: 1, g) }
            g = through
        }
        expectClose(try out.gradInput.toArray(), try g.toArray(), absolute: 1e-6, relative: 1e-5, "\(cell) residual input gradient")
        let stackGradients = try Self.gradients(stack), singleGradients = try single.flatMap { try Self.gradients($0) }
        expectClose(stackGradients.flatMap { $0 }, singleGradients.flatMap { $0 }, absolute: 1e-6, relative: 1e-5,
                    "\(cell) residual weight gradients")
    }

    @Test func refusedWhereTheyMakeNoSense() throws {
        let bidirectional = #expect(throws: RecurrentError.self) {
            try Self.make(.lstm, layers: 1, bidirectional: true, variants: RecurrentVariants(goBackwards: true))
        }
        #expect(bidirectional.map { "\($0)" }?.contains("already reads each sequence backwards") == true)
        let single = #expect(throws: RecurrentError.self) {
            try Self.make(.gru, layers: 1, variants: RecurrentVariants(residual: true))
        }
        #expect(single.map { "\($0)" }?.contains("numLayers ≥ 2") == true)
        let backwards = try Self.make(.rnnTanh, layers: 1, variants: RecurrentVariants(goBackwards: true))
        let step = #expect(throws: RecurrentError.self) {
            try backwards.step(Tensor.zeros([2, Self.i], on: TestDevice.backend), state: nil)
        }
        #expect(step.map { "\($0)" }?.contains("going backwards") == true)
    }

    /// Streaming and ONNX export have no form of these variants: they refuse them instead of dropping them.
    @Test(arguments: [RecurrentVariants(goBackwards: true), RecurrentVariants(residual: true)])
    func streamingAndExportRefuseThem(variants: RecurrentVariants) throws {
        let network = try Self.make(.lstm, layers: 2, variants: variants)
        let stream = #expect(throws: RecurrentError.self) { try network.stream(batchSize: 1) }
        #expect(stream.map { "\($0)" }?.contains("without goBackwards or residual") == true)
        let model = try Sequential([("encoder", network), ("last", LastTimeStep())])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("refused-\(UUID().uuidString).onnx")
        #expect {
            try model.exportONNX(to: url)
        } throws: { error in
            guard case let ONNXExportError.unsupportedLayer(layer, reason) = error else { return false }
            return layer == "encoder" && reason.contains(variants.goBackwards ? "goBackwards" : "residual")
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}
