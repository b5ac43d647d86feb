// Two models trained on two threads at once on one backend: the backend (Sendable: its allocator,
// queue and kernel launches are shared under locks) must give each model bit for bit what it
// gives when the models train one after the other. Run under ThreadSanitizer by .ci/run.
import Foundation
import Testing
import TestSupport
@testable import RecurrentKit

@Suite struct ConcurrencyTests {
    /// Trains model `which` for two epochs on `backend` and returns its checkpoint's bytes
    /// (weights, optimizer moments, dropout streams, counts) and the epochs' losses. Model 0: a
    /// 2-layer LSTM with dropout, Adam and norm clipping on fixed-length sequences; model 1: a
    /// bidirectional GRU with SGD on sequences of lengths 1…12.
    static func train(_ which: Int, on backend: any Backend) throws -> (checkpoint: Data, losses: [Float]) {
        let rng = RandomSource(seed: 40 + UInt64(which))
        var random = TestRandom(seed: 50 + UInt64(which))
        let model: Sequential, optimizer: any Optimizer, data: SequenceDataset
        if which == 0 {
            model = try Sequential([
                ("rnn", LSTM(inputSize: 3, hiddenSize: 12, numLayers: 2, dropout: 0.25, on: backend, rng: rng)),
                ("last", LastTimeStep()), ("fc", Linear(12, 2, on: backend, rng: rng)),
            ])
            optimizer = try Adam(model.parameters, learningRate: 0.01)
            data = try SequenceDataset(inputs: random.uniform(count: 48 * 10 * 3), targets: random.uniform(count: 48 * 2), count: 48,
                                       sequenceLength: 10, featureCount: 3, targetLayout: .perSequence([2]))
        } else {
            model = try Sequential([
                ("rnn", GRU(inputSize: 2, hiddenSize: 8, bidirectional: true, on: backend, rng: rng)),
                ("last", LastTimeStep()), ("fc", Linear(16, 1, on: backend, rng: rng)),
            ])
            optimizer = try SGD(model.parameters, learningRate: 0.05, momentum: 0.9)
            let lengths = (0..<40).map { _ in 1 + random.int(in: 0..<12) }
            data = try SequenceDataset(sequences: lengths.map { random.uniform(count: $0 * 2) }, targets: lengths.map { _ in random.uniform(count: 1) },
                                       featureCount: 2, targetLayout: .perSequence([1]))
        }
        let trainer = Trainer(model: model, loss: MSELoss(), optimizer: optimizer, on: backend)
        trainer.clipNorm = which == 0 ? 1 : nil
        let reports = try trainer.fit(data, epochs: 2, batchSize: 8, shuffleSeed: 3)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("recurrentkit-concurrency-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try trainer.saveCheckpoint(to: url)
        return (try Data(contentsOf: url), reports.map(\.trainLoss))
    }

    /// Runs `body(0)` and `body(1)` on two threads that start together; returns their results.
    static func onTwoThreads<T: Sendable>(_ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = Slots<T>()
        let start = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        for i in 0..<2 {
            let thread = Thread {
                start.wait()
                let result = Result { try body(i) }
                results.values.withLock { $0[i] = result }
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        start.signal()
        start.signal()
        done.wait()
        done.wait()
        return try (0..<2).map { i in try results.values.withLock { $0[i]! }.get() }
    }

    /// The threads' results, shared under a lock.
    final class Slots<T: Sendable>: Sendable {
        let values = Locked<[Int: Result<T, any Error>]>([:])
    }

    @Test func twoModelsOnTwoThreadsMatchOneAfterTheOther() throws {
        let backend = try TestDevice.makeBackend()
        let alone = try (0..<2).map { try Self.train($0, on: backend) }
        for round in 0..<3 {
            let together = try Self.onTwoThreads { try Self.train($0, on: backend) }
            for i in 0..<2 {
                #expect(together[i].losses == alone[i].losses, "round \(round), model \(i): losses \(together[i].losses) vs \(alone[i].losses)")
                #expect(together[i].checkpoint == alone[i].checkpoint, "round \(round), model \(i): the checkpoints differ")
            }
        }
        // Both leave the shared allocator as they found it: nothing of theirs is still in use.
        let statistics = try #require(backend.memoryStatistics())
        #expect(statistics.bytesInUse == 0, "\(statistics)")
    }

    /// The same model on two threads at once: two identical results.
    @Test func oneModelTwiceAtOnceGivesTwoIdenticalResults() throws {
        let backend = try TestDevice.makeBackend()
        let together = try Self.onTwoThreads { _ in try Self.train(0, on: backend) }
        #expect(together[0].checkpoint == together[1].checkpoint)
        #expect(together[0].losses == together[1].losses)
    }
}
