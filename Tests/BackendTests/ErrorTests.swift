// Misuse throws RecurrentError (shape or device mismatch) instead of crashing or touching
// memory outside a view, on the device under test and on the reference.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

/// Whether `error` is a `.shapeMismatch` (anything else fails the check).
func isShapeMismatch(_ error: any Error) -> Bool {
    if case RecurrentError.shapeMismatch = error { return true }
    return false
}

@Suite struct ErrorTests {
    @Test(arguments: Side.allCases)
    func elementwiseShapeMismatchThrows(_ side: Side) throws {
        let backend = side.backend
        let three = try Tensor.zeros([3], on: backend), four = try Tensor.zeros([4], on: backend)
        let six = try Tensor.zeros([6], on: backend), one = try Tensor.zeros([1], on: backend)
        #expect(performing: { try backend.axpy(three, alpha: 1, four) }, throws: isShapeMismatch)
        #expect(performing: { try backend.multiply(three, three, four) }, throws: isShapeMismatch)
        #expect(performing: { try backend.copy(three, to: four) }, throws: isShapeMismatch)
        #expect(performing: { try backend.activationForward(three, four, .tanh) }, throws: isShapeMismatch)
        #expect(performing: { try backend.addBias(six, four) }, throws: isShapeMismatch)
        #expect(performing: { try backend.sumColumns(four, six, accumulate: false) }, throws: isShapeMismatch)
        #expect(performing: { try backend.reduce(three, four, .sum, scale: 1, accumulate: false) }, throws: isShapeMismatch)
        #expect(performing: { try backend.meanSquaredError(loss: one, gradient: three, prediction: four, target: four, scale: 1) },
                throws: isShapeMismatch)
        #expect(performing: { try backend.softmaxCrossEntropy(loss: one, gradient: six, logits: six, targets: four, scale: 1) },
                throws: isShapeMismatch)
        #expect(performing: {
            try backend.dropoutForward(three, mask: four, four, probability: 0.5, seed: 1, stream: 0, offset: 0)
        }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.sgdUpdate(three, gradient: four, momentumBuffer: nil, SGDHyperparameters(learningRate: 1, isFirstStep: true))
        }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.adamUpdate(three, gradient: three, m: three, v: four,
                                   AdamHyperparameters(learningRate: 1, beta1: 0.9, beta2: 0.99, epsilon: 1e-8,
                                                       weightDecay: 0, decoupledWeightDecay: false, step: 1))
        }, throws: isShapeMismatch)
        let values: [Float] = [1, 2, 3, 4]
        #expect(performing: { try values.withUnsafeBufferPointer { try backend.upload($0, to: three) } }, throws: isShapeMismatch)
    }

    @Test(arguments: Side.allCases)
    func gemmOperandTooSmallThrows(_ side: Side) throws {
        let backend = side.backend
        let a = try Tensor.zeros([3, 4], on: backend), b = try Tensor.zeros([4, 5], on: backend)
        let c = try Tensor.zeros([3, 4], on: backend)  // needs 15
        #expect(performing: { try backend.gemm(c, a, b, GEMMShape(m: 3, n: 5, k: 4)) }, throws: isShapeMismatch)
        #expect(try c.toArray() == [Float](repeating: 0, count: 12))
    }

    @Test(arguments: Side.allCases)
    func recurrentShapeMismatchThrows(_ side: Side) throws {
        let backend = side.backend
        let s = RecurrentLayerShape(cell: .lstm, sequenceLength: 2, batchSize: 3, inputSize: 4, hiddenSize: 5)
        let w = RecurrentWeights(weightIH: try .zeros([20, 4], on: backend), weightHH: try .zeros([20, 5], on: backend),
                                 biasIH: try .zeros([20], on: backend), biasHH: try .zeros([20], on: backend))
        let input = try Tensor.zeros([2, 3, 4], on: backend), output = try Tensor.zeros([2, 3, 5], on: backend)
        let badReserve = try Tensor.zeros([s.reserveCount - 1], on: backend)
        #expect(performing: {
            try backend.recurrentForward(RecurrentForwardIO(output: output, reserve: badReserve, input: input), w, s)
        }, throws: isShapeMismatch)
        let reserve = try Tensor.zeros([s.reserveCount], on: backend)
        let badWeights = RecurrentWeights(weightIH: try .zeros([20, 3], on: backend), weightHH: w.weightHH,
                                          biasIH: w.biasIH, biasHH: w.biasHH)
        #expect(performing: {
            try backend.recurrentForward(RecurrentForwardIO(output: output, reserve: reserve, input: input), badWeights, s)
        }, throws: isShapeMismatch)
        let badGradOutput = try Tensor.zeros([2, 3, 4], on: backend)
        #expect(performing: {
            try backend.recurrentBackward(RecurrentBackwardIO(gradInput: nil, gradOutput: badGradOutput, input: input,
                                                              output: output, reserve: reserve), w, w, s)
        }, throws: isShapeMismatch)
    }

    @Test(arguments: Side.allCases)
    func recurrentProjectionMisuseThrows(_ side: Side) throws {
        let backend = side.backend
        func isInvalidArgument(_ error: any Error) -> Bool {
            if case RecurrentError.invalidArgument(name: "projection size", _, _) = error { return true }
            return false
        }
        // P = 3 < H = 5: h, outputs and W_hh's columns are 3 wide, c 5.
        let s = RecurrentLayerShape(cell: .lstm, sequenceLength: 2, batchSize: 3, inputSize: 4, hiddenSize: 5, projectionSize: 3)
        #expect(s.outputSize == 3)
        #expect(s.reserveCount == 6 * (20 + 5 + 5))
        let w = RecurrentWeights(weightIH: try .zeros([20, 4], on: backend), weightHH: try .zeros([20, 3], on: backend),
                                 biasIH: try .zeros([20], on: backend), biasHH: try .zeros([20], on: backend),
                                 weightHR: try .zeros([3, 5], on: backend))
        let input = try Tensor.zeros([2, 3, 4], on: backend), output = try Tensor.zeros([2, 3, 3], on: backend)
        let reserve = try Tensor.zeros([s.reserveCount], on: backend)
        try backend.recurrentForward(RecurrentForwardIO(output: output, finalHidden: try .zeros([3, 3], on: backend),
                                                        finalCell: try .zeros([3, 5], on: backend), reserve: reserve, input: input), w, s)
        // A hidden state of width H, a missing or extra weight_hr, an H-wide output.
        #expect(performing: {
            try backend.recurrentForward(RecurrentForwardIO(output: output, reserve: reserve, input: input,
                                                            initialHidden: try .zeros([3, 5], on: backend)), w, s)
        }, throws: isShapeMismatch)
        var missing = w
        missing.weightHR = nil
        #expect(performing: { try backend.recurrentForward(RecurrentForwardIO(output: output, reserve: reserve, input: input), missing, s) },
                throws: isShapeMismatch)
        var unprojected = s
        unprojected.projectionSize = nil
        #expect(performing: {
            try backend.recurrentForward(RecurrentForwardIO(output: try .zeros([2, 3, 5], on: backend),
                                                            reserve: try .zeros([unprojected.reserveCount], on: backend), input: input),
                                         RecurrentWeights(weightIH: w.weightIH, weightHH: try .zeros([20, 5], on: backend),
                                                          biasIH: w.biasIH, biasHH: w.biasHH, weightHR: w.weightHR), unprojected)
        }, throws: isShapeMismatch)
        #expect(performing: {
            try backend.recurrentForward(RecurrentForwardIO(output: try .zeros([2, 3, 5], on: backend), reserve: reserve, input: input), w, s)
        }, throws: isShapeMismatch)
        // P must be in 1..<H, and only LSTM projects.
        for bad in [0, 5, 6] {
            var shape = s
            shape.projectionSize = bad
            #expect(performing: { try shape.validate() }, throws: isInvalidArgument)
        }
        let gru = RecurrentLayerShape(cell: .gru, sequenceLength: 2, batchSize: 3, inputSize: 4, hiddenSize: 5, projectionSize: 3)
        #expect(performing: { try gru.validate() }, throws: isInvalidArgument)
    }

    @Test func tensorOfAnotherBackendThrowsDeviceMismatch() throws {
        let device = TestDevice.backend, reference = Side.referenceBackend
        let mine = try Tensor.zeros([3], on: device), theirs = try Tensor.zeros([3], on: reference)
        #expect(performing: { try device.axpy(mine, alpha: 1, theirs) }, throws: { error in
            if case RecurrentError.deviceMismatch = error { return true }
            return false
        })
        #expect(performing: { try reference.scale(mine, by: 2) }, throws: { error in
            if case RecurrentError.deviceMismatch = error { return true }
            return false
        })
    }
}
