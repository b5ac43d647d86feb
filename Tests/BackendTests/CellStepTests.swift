// Per-step recurrent cell ops on the device under test vs the reference.
// B = batch, H = hidden size, G = gates (LSTM 4: i, f, g, o; GRU 3: r, z, n; RNN 1).

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

/// (B, H, whether the previous state / grad output is given).
let stepCases: [(Int, Int, Bool)] = [(1, 1, true), (1, 3, false), (3, 17, true), (3, 17, false), (3, 1, true), (1, 17, true)]

@Suite struct CellStepTests {
    @Test(arguments: stepCases)
    func lstmForwardStep(b: Int, h: Int, withPrevious: Bool) throws {
        var random = TestRandom(seed: 80, stream: UInt64(b * 100 + h))
        let hidden = try Twin([b, h], filledWith: .nan), cell = try Twin([b, h], filledWith: .nan)
        let gates = try Twin([b, 4 * h], &random, low: -2, high: 2), projection = try Twin([b, 4 * h], &random)
        let biasIH = try Twin([4 * h], &random), biasHH = try Twin([4 * h], &random)
        let previous = try Twin([b, h], &random, low: -2, high: 2)
        try onBoth { backend, side in
            try backend.lstmForwardStep(hidden: hidden[side], cell: cell[side], gates: gates[side],
                                        hiddenProjection: projection[side], biasIH: biasIH[side], biasHH: biasHH[side],
                                        previousCell: withPrevious ? previous[side] : nil)
        }
        let label = "lstm forward step B \(b) H \(h) previous \(withPrevious)"
        try gates.expectClose("\(label) gates")
        try cell.expectClose("\(label) cell")
        try hidden.expectClose("\(label) hidden")
    }

    @Test(arguments: stepCases)
    func lstmBackwardStep(b: Int, h: Int, withOptional: Bool) throws {
        var random = TestRandom(seed: 81, stream: UInt64(b * 100 + h))
        let gradGates = try Twin([b, 4 * h], filledWith: .nan)
        let gradCell = try Twin([b, h], &random), gradHidden = try Twin([b, h], &random), gradOutput = try Twin([b, h], &random)
        let gates = try Twin([b, 4 * h], &random, low: 0.05, high: 0.95)
        let cell = try Twin([b, h], &random, low: -2, high: 2), previousCell = try Twin([b, h], &random, low: -2, high: 2)
        try onBoth { backend, side in
            try backend.lstmBackwardStep(gradGates: gradGates[side], gradCell: gradCell[side], gradHidden: gradHidden[side],
                                         gradOutput: withOptional ? gradOutput[side] : nil, gates: gates[side],
                                         cell: cell[side], previousCell: withOptional ? previousCell[side] : nil)
        }
        let label = "lstm backward step B \(b) H \(h) optional \(withOptional)"
        try gradGates.expectClose("\(label) gradGates")
        try gradCell.expectClose("\(label) gradCell")
    }

    @Test(arguments: stepCases)
    func gruForwardStep(b: Int, h: Int, withPrevious: Bool) throws {
        var random = TestRandom(seed: 82, stream: UInt64(b * 100 + h))
        let hidden = try Twin([b, h], filledWith: .nan), newGateHidden = try Twin([b, h], filledWith: .nan)
        let gates = try Twin([b, 3 * h], &random, low: -2, high: 2), projection = try Twin([b, 3 * h], &random)
        let biasIH = try Twin([3 * h], &random), biasHH = try Twin([3 * h], &random)
        let previous = try Twin([b, h], &random)
        try onBoth { backend, side in
            try backend.gruForwardStep(hidden: hidden[side], newGateHidden: newGateHidden[side], gates: gates[side],
                                       hiddenProjection: projection[side], biasIH: biasIH[side], biasHH: biasHH[side],
                                       previousHidden: withPrevious ? previous[side] : nil)
        }
        let label = "gru forward step B \(b) H \(h) previous \(withPrevious)"
        try gates.expectClose("\(label) gates")
        try newGateHidden.expectClose("\(label) newGateHidden")
        try hidden.expectClose("\(label) hidden")
    }

    @Test(arguments: stepCases)
    func gruBackwardStep(b: Int, h: Int, withOptional: Bool) throws {
        var random = TestRandom(seed: 83, stream: UInt64(b * 100 + h))
        let gradInput = try Twin([b, 3 * h], filledWith: .nan), gradHiddenGates = try Twin([b, 3 * h], filledWith: .nan)
        let gradHidden = try Twin([b, h], &random), gradOutput = try Twin([b, h], &random)
        let gates = try Twin([b, 3 * h], &random, low: 0.05, high: 0.95)
        let newGateHidden = try Twin([b, h], &random), previous = try Twin([b, h], &random)
        try onBoth { backend, side in
            try backend.gruBackwardStep(gradGatesInput: gradInput[side], gradGatesHidden: gradHiddenGates[side],
                                        gradHidden: gradHidden[side], gradOutput: withOptional ? gradOutput[side] : nil,
                                        gates: gates[side], newGateHidden: newGateHidden[side],
                                        previousHidden: withOptional ? previous[side] : nil)
        }
        let label = "gru backward step B \(b) H \(h) optional \(withOptional)"
        try gradInput.expectClose("\(label) gradGatesInput")
        try gradHiddenGates.expectClose("\(label) gradGatesHidden")
        try gradHidden.expectClose("\(label) gradHidden")
    }

    @Test(arguments: [Activation.tanh, .relu], stepCases)
    func rnnSteps(activation: Activation, shape: (Int, Int, Bool)) throws {
        let (b, h, withOptional) = shape
        var random = TestRandom(seed: 84, stream: UInt64(b * 100 + h))
        let hidden = try Twin([b, h], filledWith: .nan)
        let gates = try Twin([b, h], &random, low: -2, high: 2), projection = try Twin([b, h], &random)
        let biasIH = try Twin([h], &random), biasHH = try Twin([h], &random)
        try onBoth { backend, side in
            try backend.rnnForwardStep(hidden: hidden[side], gates: gates[side], hiddenProjection: projection[side],
                                       biasIH: biasIH[side], biasHH: biasHH[side], activation: activation)
        }
        let label = "rnn \(activation) step B \(b) H \(h)"
        try gates.expectClose("\(label) forward gates")
        try hidden.expectClose("\(label) forward hidden")

        let gradGates = try Twin([b, h], filledWith: .nan)
        let gradHidden = try Twin([b, h], &random), gradOutput = try Twin([b, h], &random)
        try onBoth { backend, side in
            try backend.rnnBackwardStep(gradGates: gradGates[side], gradHidden: gradHidden[side],
                                        gradOutput: withOptional ? gradOutput[side] : nil, gates: gates[side],
                                        activation: activation)
        }
        try gradGates.expectClose("\(label) backward gradGates, grad output \(withOptional)")
    }
}
