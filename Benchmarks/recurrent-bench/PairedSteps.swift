// A variant's cost over its plain cell, timed in one process on one backend: the two models'
// training steps alternate (variant, plain, variant, plain, …) and the cost is the median of the
// per-pair ratios. Timed as separate configurations, the two sit minutes apart in a run, and this
// 2-vCPU VM's speed drifts by up to 3× over minutes (a plain GRU T50 B32 I32 H128 step: 2.99 ms
// median in one configuration's timing, 5.6–12.2 ms in child processes started minutes later);
// steps that alternate see the same machine within milliseconds.
import Foundation
import RecurrentKit

/// What one paired child process measured (the JSON line it prints).
struct PairedTiming: Codable, Sendable {
    var variant: String, plain: String
    var backend: String
    /// variant step time / the next plain step's, for each timed pair.
    var ratios: [Double]
    var variant_ms_median: Double, plain_ms_median: Double
}

/// Times `variant` and `plain` on a new backend of device `device`: `warmup` untimed steps of each,
/// then `steps` timed pairs, each one variant step and then one plain step.
func measurePair(_ variant: BenchConfig, _ plain: BenchConfig, device: String, warmup: Int, steps: Int) throws -> PairedTiming {
    let backend = try Device.makeBackend(device)
    let a = try TrainingStep(variant, on: backend), b = try TrainingStep(plain, on: backend)
    for _ in 0..<warmup {
        try a.step()
        try b.step()
    }
    let clock = ContinuousClock()
    var timesA: [Double] = [], timesB: [Double] = []
    for _ in 0..<steps {
        timesA.append(milliseconds(try clock.measure { try a.step() }))
        timesB.append(milliseconds(try clock.measure { try b.step() }))
    }
    return PairedTiming(variant: variant.text, plain: plain.text, backend: backend.name,
                        ratios: zip(timesA, timesB).map { $0 / $1 }, variant_ms_median: median(timesA), plain_ms_median: median(timesB))
}

/// Runs this executable again in `--child --paired-with` mode and decodes its JSON line.
func measurePairInChildProcess(_ variant: BenchConfig, _ plain: BenchConfig, device: String, warmup: Int, steps: Int) throws -> PairedTiming {
    try runChild(["--config", variant.text, "--paired-with", plain.text, "--backends", device, "--warmup", "\(warmup)", "--steps", "\(steps)"],
                 what: "\(variant.label) paired with its plain cell on \(device)")
}

/// `d` in milliseconds.
func milliseconds(_ d: Duration) -> Double { Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1e3 }

/// The median of `values` (NaN for none).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let k = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[k] : (sorted[k - 1] + sorted[k]) / 2
}
