import Testing
@testable import RecurrentCore

@Test func defaultLeadingDimensions() {
    let s = GEMMShape(m: 3, n: 5, k: 7)
    #expect((s.lda, s.ldb, s.ldc) == (7, 5, 5))
    let t = GEMMShape(m: 3, n: 5, k: 7, transA: .transposed, transB: .transposed)
    #expect((t.lda, t.ldb, t.ldc) == (3, 7, 5))
    #expect(t.requiredCounts == (21, 35, 15))
    let batched = GEMMShape(m: 2, n: 2, k: 2, batchCount: 3, strideA: 4, strideB: 4, strideC: 5)
    #expect(batched.requiredCounts == (12, 12, 14))
}

@Test func recurrentShapes() throws {
    let lstm = RecurrentLayerShape(cell: .lstm, sequenceLength: 5, batchSize: 3, inputSize: 4, hiddenSize: 6)
    #expect(lstm.gateWidth == 24)
    #expect(lstm.reserveCount == 5 * 3 * (24 + 6))
    let rnn = RecurrentLayerShape(cell: .rnnRelu, sequenceLength: 5, batchSize: 3, inputSize: 4, hiddenSize: 6)
    #expect(rnn.reserveCount == 5 * 3 * 6)
    let bad = RecurrentLayerShape(cell: .gru, sequenceLength: 0, batchSize: 3, inputSize: 4, hiddenSize: 6)
    #expect(throws: RecurrentError.invalidArgument(name: "sequence length", expected: "at least 1", got: "0")) { try bad.validate() }
}
