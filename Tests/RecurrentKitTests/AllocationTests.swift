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
