import ArgumentParser
import Foundation
import RecurrentDistributed
import RecurrentKit

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Demos that train small recurrent models on generated data.",
        subcommands: [Sine.self])
}

extension Demo {
    struct Sine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forecast the next value of noisy sine waves of unknown frequency.")

        @OptionGroup var common: CommonOptions

        @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn-relu.")
        var cell: String = "lstm"
        @Option(help: "Hidden units per layer.") var hiddenSize: Int = 32
        @Option(help: "Stacked recurrent layers.") var layers: Int = 1
        @Option(help: "Dropout between stacked layers.") var dropout: Float = 0
        @Option(help: "Time steps per sequence.") var length: Int = 40
        @Option(help: "Sequences generated (80% train, 20% validation).") var samples: Int = 2000
        @Option(help: "Epochs.") var epochs: Int = 15
        @Option(help: "Sequences per batch.") var batchSize: Int = 32
        @Option(help: "Adam learning rate.") var learningRate: Float = 0.01
        @Option(help: "Clip the global gradient norm to this.") var clipNorm: Float = 1
        @Option(help: "Validation MSE the demo must reach to count as learned.") var threshold: Float = 0.01

        func run() throws {
            // Under mpirun: data-parallel, each rank on its share of every batch; rank 0 prints.
            let world = try MPIDataParallel.joinIfLaunched()
            defer { try? world?.finish() }
            let print: (String) -> Void = { if world?.isRoot ?? true { Swift.print($0) } }
            let backend = try common.backend()
            let rng = RandomSource(seed: common.seed)
            let data = try SyntheticData.sineWaves(count: samples, length: length, noise: 0.05, seed: common.seed)
            let (train, validation) = try data.split(validationFraction: 0.2)
            let recurrent = try makeRecurrent(cell: cell, inputSize: 1, hiddenSize: hiddenSize, layers: layers,
                                              dropout: dropout, on: backend, rng: rng)
            let model = try Sequential([("rnn", recurrent), ("last", LastTimeStep()),
                                        ("fc", Linear(hiddenSize, 1, on: backend, rng: rng))])
            let optimizer = try Adam(model.parameters, learningRate: learningRate)
            let trainer = Trainer(model: model, loss: MSELoss(), optimizer: optimizer, on: backend)
            trainer.clipNorm = clipNorm
            trainer.scheduler = try CosineAnnealingLR(optimizer, maxEpochs: epochs, minimumLearningRate: learningRate / 20)
            if let world {
                try world.broadcastParameters(model)
                trainer.gradientReducer = world
                print("data-parallel over \(world.size) MPI ranks: each trains on 1/\(world.size) of every batch of \(batchSize)")
            }

            print("sine forecasting: \(cell) \(layers)×\(hiddenSize), \(model.parameterCount) parameters, on \(backend.name) (\(backend.deviceDescription))")
            print("\(train.count) training and \(validation.count) validation sequences of \(length) steps; predicting the next value")
            let baseline = validationVarianceOfTargets(validation)
            print(String(format: "baseline (predict the mean): validation MSE %.4f", baseline))
            var last: EpochReport?
            try trainer.fit(train, validation: validation, epochs: epochs, batchSize: batchSize, shuffleSeed: common.seed, onEpoch: { r in
                print(String(format: "epoch %3d  train MSE %.5f  validation MSE %.5f  lr %.5f  %.0f seq/s",
                             r.epoch, r.trainLoss, r.validationLoss ?? .nan, r.learningRate, r.sequencesPerSecond))
                last = r
            })
            let final = last?.validationLoss ?? .nan
            if final < threshold {
                print(String(format: "learned: validation MSE %.5f < %.3g (%.0f× better than the baseline)", final, threshold, baseline / final))
            } else {
                throw UserFacingError(description: String(format: "did not learn: validation MSE %.5f ≥ %.3g", final, threshold))
            }
        }

        private func validationVarianceOfTargets(_ data: SequenceDataset) -> Float {
            let mean = data.targets.reduce(0, +) / Float(data.targets.count)
            return data.targets.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(data.targets.count)
        }
    }
}

