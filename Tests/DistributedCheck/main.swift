// Run under `mpirun -np N` (N dividing 8): trains 20 steps data-parallel and checks, on rank 0,
// that the losses and final weights match one process training on the combined batches.
// Prints a closing "N passed, N failed" line; exits non-zero on a mismatch.
import Foundation
import RecurrentDistributed
import RecurrentKit

let backend = try Device.fromEnvironment()
let (steps, t, globalBatch, inputs, hidden) = (20, 6, 8, 3, 8)

/// A 2-layer LSTM regressor; `seed` sets its initial weights.
func makeTrainer(seed: UInt64) throws -> Trainer {
    let rng = RandomSource(seed: seed)
    let model = try Sequential([("rnn", LSTM(inputSize: inputs, hiddenSize: hidden, numLayers: 2, on: backend, rng: rng)),
                                ("last", LastTimeStep()), ("fc", Linear(hidden, 2, on: backend, rng: rng))])
    let trainer = Trainer(model: model, loss: MSELoss(), optimizer: try Adam(model.parameters, learningRate: 0.01), on: backend)
    trainer.clipNorm = 0.3   // applied to the averaged gradient
    return trainer
}

/// Global batch `step` (the same on every rank), restricted to `columns`: input (T, b, I), target (b, 2).
func batch(_ step: Int, columns: [Int]) throws -> (SequenceBatch, Tensor) {
    var random = PhiloxStream(seed: 11, stream: UInt64(step))
    let x = random.normal(count: t * globalBatch * inputs), y = random.normal(count: globalBatch * 2)
    var xs: [Float] = [], ys: [Float] = []
    for step in 0..<t { for b in columns { xs += x[((step * globalBatch + b) * inputs)..<((step * globalBatch + b + 1) * inputs)] } }
    for b in columns { ys += y[(b * 2)..<(b * 2 + 2)] }
    return (try SequenceBatch(Tensor(shape: [t, columns.count, inputs], values: xs, on: backend)), try Tensor(shape: [columns.count, 2], values: ys, on: backend))
}

// Modes: no arguments, the parity check; `--die-rank R --die-at-step S --checkpoint PATH`, a run in
// which rank R kills itself at step S while rank 0 checkpoints every 5 steps (the failure test);
// `--verify-checkpoint PATH STEPS`, one process checking that the checkpoint loads and holds STEPS.
let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? { arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } }

if let path = option("--verify-checkpoint") {
    let expected = Int(arguments.last ?? "") ?? -1
    let trainer = try makeTrainer(seed: 1)
    try trainer.loadCheckpoint(from: URL(fileURLWithPath: path))
    let ok = trainer.steps == expected
    print("checkpoint \(path): loads, \(trainer.steps) steps (expected \(expected))")
    print(ok ? "1 passed, 0 failed" : "0 passed, 1 failed")
    exit(ok ? 0 : 1)
}

let world = try MPIDataParallel()

if let dieRank = option("--die-rank").flatMap({ Int($0) }), let dieStep = option("--die-at-step").flatMap({ Int($0) }),
   let path = option("--checkpoint") {
    let trainer = try makeTrainer(seed: 100)
    try world.broadcastParameters(trainer.model)
    trainer.gradientReducer = world
    let columns = try world.shard(of: Array(0..<globalBatch))
    for step in 1...1000 {
        if world.rank == dieRank && step == dieStep {
            FileHandle.standardError.write("rank \(dieRank): dying at step \(step)\n".data(using: .utf8)!)
            kill(getpid(), SIGKILL)
        }
        let (x, y) = try batch(step, columns: columns)
        try trainer.trainStep(input: x, target: y)
        if world.isRoot && step % 5 == 0 { try trainer.saveCheckpoint(to: URL(fileURLWithPath: path)) }
    }
    fatalError("the other ranks went on after rank \(dieRank) died")
}

if let stepsText = option("--benchmark"), let timed = Int(stepsText) {
    // Timed training of an LSTM (T50, global B64, I32, H128) at a fixed global batch: rank 0 prints ms/step.
    let rng = RandomSource(seed: 3)
    let model = try Sequential([("rnn", LSTM(inputSize: 32, hiddenSize: 128, on: backend, rng: rng)), ("last", LastTimeStep()),
                                ("fc", Linear(128, 1, on: backend, rng: rng))])
    let trainer = Trainer(model: model, loss: MSELoss(), optimizer: try Adam(model.parameters), on: backend)
    trainer.gradientReducer = world
    trainer.nonFinitePolicy = .ignore
    let share = 64 / world.size
    var random = PhiloxStream(seed: UInt64(world.rank), stream: 0)
    let x = try SequenceBatch(Tensor(shape: [50, share, 32], values: random.normal(count: 50 * share * 32), on: backend))
    let y = try Tensor(shape: [share, 1], values: random.normal(count: share), on: backend)
    for _ in 0..<3 { try trainer.trainStep(input: x, target: y) }
    try world.barrier()
    let clock = ContinuousClock()
    let elapsed = try clock.measure { for _ in 0..<timed { try trainer.trainStep(input: x, target: y) }; try world.barrier() }
    let ms = (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * 1e3 / Double(timed)
    if world.isRoot { print(String(format: "ranks %d: %.2f ms per global step of 64 sequences", world.size, ms)) }
    try world.finish()
    exit(0)
}

// Data-parallel run: each rank starts from its own weights; the broadcast makes them rank 0's.
let parallel = try makeTrainer(seed: UInt64(100 + world.rank))
try world.broadcastParameters(parallel.model)
parallel.gradientReducer = world
let myColumns = try world.shard(of: Array(0..<globalBatch))
var parallelLosses: [Double] = []
for step in 0..<steps {
    let (x, y) = try batch(step, columns: myColumns)
    let local = try parallel.trainStep(input: x, target: y).item()
    parallelLosses.append(try world.sum(Double(local)) / Double(world.size))   // mean of equal shards = global mean
}

var failures = 0
if world.isRoot {
    let single = try makeTrainer(seed: 100)
    var worstLoss = 0.0, worstWeight: Float = 0
    for step in 0..<steps {
        let (x, y) = try batch(step, columns: Array(0..<globalBatch))
        let loss = Double(try single.trainStep(input: x, target: y).item())
        worstLoss = max(worstLoss, abs(parallelLosses[step] - loss) / abs(loss))
    }
    let a = try parallel.model.stateDict(), b = try single.model.stateDict()
    for (name, tensor) in a {
        for (u, v) in zip(tensor.values, b[name]!.values) { worstWeight = max(worstWeight, abs(u - v) / max(abs(v), 1)) }
    }
    let lossesMatch = worstLoss <= 1e-5, weightsMatch = worstWeight <= 1e-5
    failures = (lossesMatch ? 0 : 1) + (weightsMatch ? 0 : 1)
    print("distributed: \(steps) steps on \(world.size) ranks (\(backend.name)) vs one process on the combined batches")
    print(String(format: "  losses: worst relative difference %.2e (%@)", worstLoss, lossesMatch ? "ok" : "MISMATCH, bound 1e-5"))
    print(String(format: "  final weights: worst difference %.2e (%@)", worstWeight, weightsMatch ? "ok" : "MISMATCH, bound 1e-5"))
    print("\(2 - failures) passed, \(failures) failed")
}
try world.barrier()
try world.finish()
exit(failures == 0 ? 0 : 1)
