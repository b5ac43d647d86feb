import Testing
import TestSupport
@testable import RecurrentKit

/// After the first training step (which sizes buffers and creates optimizer state), a step
/// allocates nothing from the system: every buffer comes back from the backend's cache.
@Test(arguments: [RecurrentCell.lstm, .gru, .rnnTanh])
func trainingStepsAfterTheFirstAllocateNothing(cell: RecurrentCell) throws {
    let backend = try TestDevice.makeBackend()   // private counters: other tests run in parallel
    guard backend.memoryStatistics() != nil else { return }   // a backend without counters has nothing to check
    let rng = RandomSource(seed: 4)
    let rnn: RecurrentNetwork = switch cell {
    case .lstm: try LSTM(inputSize: 3, hiddenSize: 8, numLayers: 2, dropout: 0.2, on: backend, rng: rng)
    case .gru: try GRU(inputSize: 3, hiddenSize: 8, numLayers: 2, dropout: 0.2, on: backend, rng: rng)
    default: try RNN(inputSize: 3, hiddenSize: 8, numLayers: 2, dropout: 0.2, on: backend, rng: rng)
    }
    let model = try Sequential([("rnn", rnn), ("last", LastTimeStep()), ("fc", Linear(8, 2, on: backend, rng: rng))])
    let trainer = Trainer(model: model, loss: MSELoss(), optimizer: try Adam(model.parameters), on: backend)
    trainer.clipNorm = 1
    trainer.penalty = try WeightPenalty(l1: 1e-4, l2: 1e-4)
    var random = TestRandom(seed: 5)
    let x = try SequenceBatch(random.tensor([7, 4, 3], on: backend)), y = try random.tensor([4, 2], on: backend)
    try trainer.trainStep(input: x, target: y)
    let afterFirst = try #require(backend.memoryStatistics())
    for _ in 0..<3 { try trainer.trainStep(input: x, target: y) }
    let afterMore = try #require(backend.memoryStatistics())
    #expect(afterMore.systemAllocations == afterFirst.systemAllocations)
    #expect(afterMore.bytesInUse <= afterFirst.bytesInUse)
}

/// Batches whose lengths change every step reuse the cache's blocks (best fit, split, merged)
/// instead of keeping a block per size: memory held levels off and stays within 4× the peak of
/// live tensors.
@Test func variableLengthsKeepMemoryHeldBounded() throws {
    let backend = try TestDevice.makeBackend()
    guard backend.memoryStatistics() != nil else { return }
    let lstm = try LSTM(inputSize: 4, hiddenSize: 16, numLayers: 2, on: backend, rng: RandomSource(seed: 1))
    let optimizer = try Adam(lstm.parameters)
    let loss = MSELoss()
    var random = TestRandom(seed: 2), draws = PhiloxStream(seed: 3, stream: 0)
    var heldAfterWarmUp = 0
    for step in 1...60 {
        let lengths = (0..<8).map { _ in 1 + Int(draws.nextWord() % 40) }
        let t = lengths.max()!
        let x = try SequenceBatch(random.tensor([t, 8, 4], on: backend), lengths: lengths)
        let y = try random.tensor([t, 8, 16], on: backend)
        try optimizer.zeroGradients()
        let tape = Tape()
        let output = try lstm(x, tape: tape).output.data
        _ = try loss.forward(output, y)   // over the padded output: the memory, not the loss, is under test
        try tape.backward(output, gradient: loss.backward())
        try optimizer.step()
        if step == 15 { heldAfterWarmUp = try #require(backend.memoryStatistics()).bytesReserved }
    }
    let m = try #require(backend.memoryStatistics())
    #expect(m.bytesReserved <= heldAfterWarmUp + BlockCache<Int>.segmentQuantumBytes,
            "held \(m.bytesReserved) bytes after 60 steps, \(heldAfterWarmUp) after 15")
    #expect(m.bytesReserved <= 4 * max(m.peakBytesInUse, BlockCache<Int>.segmentQuantumBytes))
}

/// The limits a backend's allocator is given hold: a held-bytes limit refuses with
/// `.outOfMemory` naming the bytes asked and available, and lifting it lets allocation go on.
@Test func anAllocationLimitRefusesAndCanBeLifted() throws {
    let backend = try TestDevice.makeBackend()
    guard let original = backend.memoryLimits else { return }
    defer { backend.setMemoryLimits(original) }
    let held = try #require(backend.memoryStatistics()).bytesReserved
    backend.setMemoryLimits(MemoryLimits(cachedBytes: original.cachedBytes, heldBytes: held + (4 << 20)))
    let fits = try Tensor.zeros([1 << 20], on: backend)   // 4 MiB
    let error = try #require(throws: RecurrentError.self) { try Tensor.zeros([1 << 20], on: backend) }
    guard case let .outOfMemory(_, requested, available) = error else { Issue.record("expected outOfMemory, got \(error)"); return }
    #expect(requested == 4 << 20)
    #expect(available != nil && available! < 4 << 20, "\(error)")
    backend.setMemoryLimits(original)
    let more = try Tensor.zeros([1 << 20], on: backend)
    #expect(try fits.toArray().count + more.toArray().count == 2 << 20)
}
