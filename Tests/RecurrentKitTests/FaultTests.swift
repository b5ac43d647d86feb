import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

/// Faults that must lose nothing: device memory that runs out in the middle of a step, and
/// checkpoint writes that fail part-way.
@Suite struct FaultTests {
    /// An LSTM stack with dropout, Adam, clipping; on its own backend (its allocator gets a limit).
    private func make(on backend: any Backend) throws -> Trainer {
        let rng = RandomSource(seed: 7)
        let model = try Sequential([
            ("rnn", LSTM(inputSize: 3, hiddenSize: 16, numLayers: 2, dropout: 0.25, on: backend, rng: rng)),
            ("last", LastTimeStep()), ("fc", Linear(16, 2, on: backend, rng: rng)),
        ])
        let trainer = Trainer(model: model, loss: MSELoss(), optimizer: try Adam(model.parameters, learningRate: 0.01), on: backend)
        trainer.clipNorm = 1
        return trainer
    }

    private func temporaryURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("recurrentkit-fault-\(UUID().uuidString)-\(name)")
    }

    /// Everything a checkpoint holds (weights, optimizer slots and counts, dropout streams, cursor), as bytes.
    private func snapshot(_ trainer: Trainer) throws -> Data {
        let url = temporaryURL("snapshot.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try trainer.saveCheckpoint(to: url)
        return try Data(contentsOf: url)
    }

    /// A step whose allocations pass the allocator's limit throws `.outOfMemory`, leaves the
    /// weights, optimizer state and counters as they were, and once memory is freed the same
    /// step gives bit for bit what it gives on a backend that never ran out.
    @Test func deviceMemoryRunningOutMidStepLosesNothing() throws {
        let backend = try TestDevice.makeBackend(), twinBackend = try TestDevice.makeBackend()
        guard let limits = backend.memoryLimits else { return }   // a backend without an allocator of its own
        let trainer = try make(on: backend), twin = try make(on: twinBackend)
        var random = TestRandom(seed: 9)
        let small = (x: random.uniform(count: 5 * 4 * 3), y: random.uniform(count: 4 * 2))
        let large = (x: random.uniform(count: 40 * 64 * 3), y: random.uniform(count: 64 * 2))
        func step(_ t: Trainer, _ data: (x: [Float], y: [Float]), steps: Int, batch: Int, on b: any Backend) throws {
            _ = try t.trainStep(input: SequenceBatch(Tensor(shape: [steps, batch, 3], values: data.x, on: b)), target: Tensor(shape: [batch, 2], values: data.y, on: b))
        }
        for (t, b) in [(trainer, backend), (twin, twinBackend)] { try step(t, small, steps: 5, batch: 4, on: b) }

        // Memory held elsewhere (64 MiB), and a limit at what is held now: the larger batch's
        // activations find no room part-way through the forward pass.
        defer { backend.setMemoryLimits(limits) }
        do {
            let ballast = try Tensor.zeros([16 << 20], on: backend)
            let held = try #require(backend.memoryStatistics()).bytesReserved
            backend.setMemoryLimits(MemoryLimits(cachedBytes: limits.cachedBytes, heldBytes: held))
            let before = try snapshot(trainer)
            let error = try #require(throws: RecurrentError.self) { try step(trainer, large, steps: 40, batch: 64, on: backend) }
            guard case .outOfMemory = error else { Issue.record("expected outOfMemory, got \(error)"); return }
            #expect(try snapshot(trainer) == before, "the failed step changed the trainer's state")
            withExtendedLifetime(ballast) {}
        }

        // The ballast is freed (same limit): the step goes through and matches the twin's.
        try step(trainer, large, steps: 40, batch: 64, on: backend)
        try step(twin, large, steps: 40, batch: 64, on: twinBackend)
        #expect(try snapshot(trainer) == snapshot(twin))
    }
}
