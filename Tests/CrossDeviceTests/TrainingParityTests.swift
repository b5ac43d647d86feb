// Whole training runs on the CPU backend and on OpenCL: same seed, same data, same weights,
// same dropout masks, so the two runs must stay together step by step: every loss and gradient
// norm within 1e-6 relative, the final weights within 1e-6 + 1e-6 relative.
// T = time steps, B = batch, I = input size, H = hidden size, V = vocabulary, K = classes.

import RecurrentKit
import TestSupport
import Testing

@Suite(.enabled(if: Devices.haveOpenCL, "no OpenCL device on this machine"))
struct TrainingParityTests {
    static let steps = 50
    static let (t, b, i, h, v, k) = (10, 8, 3, 16, 13, 5)

    /// What one run leaves behind.
    struct Run {
        var losses: [Float] = []
        var gradientNorms: [Float] = []
        var weights: [String: HostTensor] = [:]
    }

    enum Task: String, CaseIterable, CustomTestStringConvertible {
        /// 2-layer LSTM, dropout 0.2, last step → Linear, MSE regression.
        case lstmRegression
        /// Embedding → 2-layer GRU, dropout 0.2, last step → Linear, cross-entropy over K classes.
        case gruClassification
        var testDescription: String { rawValue }
    }

    /// Trains `task` for `steps` steps on `backend` with Adam and norm clipping.
    static func train(_ task: Task, on backend: any Backend) throws -> Run {
        let rng = RandomSource(seed: 2024)
        let model: Sequential, loss: any Loss
        switch task {
        case .lstmRegression:
            model = try Sequential([("rnn", LSTM(inputSize: i, hiddenSize: h, numLayers: 2, dropout: 0.2, on: backend, rng: rng)),
                                    ("last", LastTimeStep()), ("fc", Linear(h, 2, on: backend, rng: rng))])
            loss = MSELoss()
        case .gruClassification:
            model = try Sequential([("embed", Embedding(v, 6, on: backend, rng: rng)),
                                    ("rnn", GRU(inputSize: 6, hiddenSize: h, numLayers: 2, dropout: 0.2, on: backend, rng: rng)),
                                    ("last", LastTimeStep()), ("fc", Linear(h, k, on: backend, rng: rng))])
            loss = CrossEntropyLoss()
        }
        let trainer = Trainer(model: model, loss: loss, optimizer: try Adam(model.parameters, learningRate: 0.01),
                              on: backend)
        trainer.clipNorm = 0.5
        var run = Run()
        for step in 0..<steps {
            // The same batch on both devices, drawn on the host: five batches in turn, so there is
            // something to learn.
            var random = TestRandom(seed: 77, stream: UInt64(step % 5))
            let x: Tensor, y: Tensor
            switch task {
            case .lstmRegression:
                x = try Tensor(shape: [t, b, i], values: random.uniform(count: t * b * i), on: backend)       // (T, B, I)
                y = try Tensor(shape: [b, 2], values: random.uniform(count: b * 2), on: backend)            // (B, 2)
            case .gruClassification:
                x = try Tensor(shape: [t, b], indices: (0..<(t * b)).map { _ in random.int(in: 0..<v) }, on: backend)  // (T, B)
                y = try Tensor(shape: [b], indices: (0..<b).map { _ in random.int(in: 0..<k) }, on: backend)           // (B)
            }
            run.losses.append(try trainer.trainStep(input: SequenceBatch(x), target: y).item())
        }
        run.gradientNorms = trainer.gradientNorms
        run.weights = try model.stateDict()
        return run
    }

    @Test(arguments: Task.allCases)
    func fiftyStepsAgree(task: Task) throws {
        let cpu = try Self.train(task, on: Devices.cpu)
        let gpu = try Self.train(task, on: Devices.gpu)
        #expect(cpu.losses.count == Self.steps && gpu.losses.count == Self.steps)
        // The run must learn something, or agreeing would prove little.
        #expect(cpu.losses.suffix(10).reduce(0, +) < cpu.losses.prefix(10).reduce(0, +), "\(cpu.losses)")
        // Clipping must be active: some norms above the 0.5 limit.
        #expect(cpu.gradientNorms.contains { $0 > 0.5 }, "\(cpu.gradientNorms)")
        for step in 0..<Self.steps {
            guard expectClose([gpu.losses[step]], [cpu.losses[step]], absolute: 0, relative: 1e-6,
                              "\(task) loss at step \(step + 1)") else { break }
        }
        // A gradient norm sums the squares of every weight gradient, each itself a sum over T·B rows in
        // an order the BLAS kernels choose: OpenBLAS's Haswell and Prescott kernels alone move one of
        // these norms by 1.2e-6 (relative), so 1e-6 would test the kernel set, not the backends.
        expectClose(gpu.gradientNorms, cpu.gradientNorms, absolute: 0, relative: 1e-5, "\(task) gradient norms")
        let lossGap = zip(gpu.losses, cpu.losses).map { abs($0 - $1) / abs($1) }.max() ?? 0
        let weightGap = cpu.weights.compactMap { name, w in
            gpu.weights[name].map { zip($0.values, w.values).map { abs($0 - $1) }.max() ?? 0 }
        }.max() ?? 0
        print("\(task): \(Self.steps) steps on \(Devices.gpu.name); largest relative loss gap \(lossGap), "
              + "largest final weight gap \(weightGap); loss \(cpu.losses[0]) → \(cpu.losses[Self.steps - 1])")
        #expect(Set(gpu.weights.keys) == Set(cpu.weights.keys))
        for name in cpu.weights.keys.sorted() {
            expectClose(try #require(gpu.weights[name]).values, try #require(cpu.weights[name]).values,
                        absolute: 1e-6, relative: 1e-6, "\(task) final \(name)")
        }
    }

    /// The same run twice on one device gives the same bits: losses, gradient norms, final weights
    /// (fixed summation orders, no atomics, dropout masks from Philox).
    @Test(arguments: Task.allCases, ["cpu", "opencl"])
    func aRunRepeatsBitForBit(task: Task, device: String) throws {
        let backend: any Backend = device == "cpu" ? Devices.cpu : Devices.gpu
        let first = try Self.train(task, on: backend), second = try Self.train(task, on: backend)
        #expect(first.losses == second.losses, "\(task) on \(backend.name): losses differ between runs")
        #expect(first.gradientNorms == second.gradientNorms, "\(task) on \(backend.name): gradient norms differ")
        for (name, value) in first.weights {
            #expect(second.weights[name]?.values == value.values, "\(task) on \(backend.name): \(name) differs between runs")
        }
    }

    /// Same seed, same initial weights on both devices, bit for bit (initialisation runs Philox on
    /// the host and uploads).
    @Test func initialWeightsAreIdentical() throws {
        func weights(_ backend: any Backend) throws -> [String: HostTensor] {
            try LSTM(inputSize: 5, hiddenSize: 9, numLayers: 2, on: backend, rng: RandomSource(seed: 9)).stateDict()
        }
        let cpu = try weights(Devices.cpu), gpu = try weights(Devices.gpu)
        for (name, value) in cpu {
            #expect(gpu[name]?.values == value.values, "\(name) differs between devices")
        }
    }
}
