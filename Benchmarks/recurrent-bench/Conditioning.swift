// fp32 conditioning of one training step: how far rounding-sized changes move its results on
// one device, the yardstick for a cross-device difference that fails the strict tolerance.
// A layer-normalised recurrence over many steps magnifies rounding (the same model in PyTorch
// differs by ~1e-3 between fp32 and fp64 at T100), so two correct backends that round
// differently part by more than a fixed tolerance; a wrong kernel parts them by far more.
import RecurrentKit

/// Per tensor of one step, the spread d = max|a′ − a| between the step as run and the same
/// step with every parameter nudged by one rounding, w · (1 + 2⁻²⁴·s) with s = ±1 from Philox;
/// d is the larger of two independent draws of the signs.
///
/// Only the weights are nudged: the same weights enter every time step's products, so their
/// change acts at every step, as rounding does. Nudging the input as well changed d in no
/// consistent direction (T100 B64 I128 H256 on cpu: ×1.5 to ×2.1 with layer norm alone, ×0.15 to
/// ×1.2 with zoneout or a projection), of the order by which a second draw of the weights' signs
/// changes it (×0.8 to ×3), so it adds nothing but another draw. Taking the larger of two draws
/// keeps one draw that happens to land small from understating d.
struct RoundingSpread {
    /// K: a tensor that fails the strict tolerance still agrees while its cross-device
    /// difference is at most K · d. Measured on cpu vs opencl (PoCL), T100 B64 I128 H256 L1:
    /// correct backends reach difference / d of 2.8 (lstm+layernorm), 0.7 (lstm+lnzoneout),
    /// 0.08 (lstm+lnproj), and up to 12 where the strict rule passes anyway (plain lstm and gru,
    /// gru+layernorm: d is a few ulps there and the difference comes from summation order);
    /// a wrong gate, a dropped bias or an off-by-one normalising divisor in one backend's
    /// layer-normalised LSTM kernel reach 580 to 2,200 on every tensor. A bug whose effect at the
    /// full size is below the noise passes this rule (step 0's output gradient dropped: 1e5 at
    /// T10, but 3.6 at T100); the comparison with the reference at T ≤ 3 reports it.
    static let factor = 20.0

    /// The signs' seeds of the draws.
    static let signSeeds: [UInt64] = [0, 1]

    /// d per tensor name (loss, output, grad.input, grad.<parameter>).
    let spread: [String: Double]

    /// Runs `config` once more per draw on `backend` with the parameters nudged, and measures
    /// each tensor's distance from `baseline` (the unnudged step's tensors on the same backend).
    init(_ config: BenchConfig, on backend: any Backend, baseline: [String: [Float]]) throws {
        var spread: [String: Double] = [:]
        for seed in Self.signSeeds {
            let nudged = try oneStep(config, on: backend) { step in
                try nudgeByOneRounding(step.network.namedParameters.map(\.parameter.value), signSeed: seed)
            }
            for (name, values) in baseline {
                guard let other = nudged[name], other.count == values.count else { continue }
                spread[name] = max(spread[name] ?? 0, Double(zip(other, values).map { abs($0 - $1) }.max() ?? 0))
            }
        }
        self.spread = spread
    }

    /// Whether `difference` (max|a − e| across devices for tensor `name`) is within K · d.
    func allows(_ name: String, difference: Double) -> Bool {
        difference <= Self.factor * (spread[name] ?? 0)
    }
}

/// Multiplies every element of `tensors` by 1 + 2⁻²⁴·s, s = ±1 drawn in order from one Philox
/// stream (`signSeed`). The product is formed in Double and rounded to the nearest Float: 2⁻²⁴·|w|
/// is half an ulp to one ulp of w, so almost every element moves by one ulp, the size of one
/// rounding in fp32 (2⁻²⁴ alone would round away in Float arithmetic).
func nudgeByOneRounding(_ tensors: [Tensor], signSeed: UInt64) throws {
    var signs = PhiloxStream(seed: signSeed, stream: 3_000_000)
    for tensor in tensors {
        var host = try tensor.toHost()
        for k in host.values.indices {
            let s: Double = signs.nextWord() & 1 == 0 ? 1 : -1
            host.values[k] = Float(Double(host.values[k]) * (1 + 0x1p-24 * s))
        }
        try tensor.assign(host)
    }
}
