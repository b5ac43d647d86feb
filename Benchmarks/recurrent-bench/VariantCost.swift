// What each cell variant costs: its step time over the plain cell's of the same run, on each
// backend, and PyTorch eager's step time for the same variant (the twin's Python loop one step
// at a time) over ours. Layer norm with zoneout is also set against layer norm alone, where zoneout's
// own target applies.
import Foundation

/// The most a variant's step may cost over the plain cell's (the targets the README reports against).
func variantTarget(_ v: BenchVariant) -> Double? {
    switch v {
    case .plain, .resetbefore: return nil   // no target for the reset-before GRU
    case .rdrop, .zoneout, .wdrop: return 1.3
    case .layernorm: return 1.6
    case .lnzoneout: return nil             // against layer norm alone: zoneout's 1.3
    case .lnproj: return nil                // against layer norm alone, no target
    }
}

extension BenchConfig {
    /// The configurations a variant's cost is set against: its plain cell, and for layer norm with
    /// zoneout or a projection also layer norm alone.
    var costBaselines: [BenchConfig] {
        var plain = self, layerNorm = self
        plain.variant = .plain
        layerNorm.variant = .layernorm
        return variant == .lnzoneout || variant == .lnproj ? [plain, layerNorm] : [plain]
    }
}

/// Prints, for every variant configuration whose plain configuration was timed too, the step-time
/// ratios: variant / plain per backend (and for PyTorch: its eager loop over nn.LSTM/nn.GRU), and
/// PyTorch eager / ours. On our backends variant / plain is the median of `pairedRatios` (steps of
/// the two alternating in one process, PairedSteps.swift) where there are any, else the ratio of
/// the two configurations' median step times.
func printVariantCosts(_ configs: [BenchConfig], _ results: [Measurement], pairedRatios: [String: [String: [Double]]] = [:],
                       devices: [String], log: (String) -> Void) {
    func time(_ c: BenchConfig, _ backend: String) -> Double? {
        results.first(where: { $0.backend == backend && $0.config == c.text })?.step_ms_median
    }
    let variants = configs.filter { $0.variant != .plain }
    guard !variants.isEmpty else { return }
    log("variant cost (our backends: median ratio of alternating variant and plain steps in one process; PyTorch: "
        + "median step times of this run; target: variant/plain ≤ 1.3× (layer norm ≤ 1.6×), PyTorch eager/ours ≥ 3× on the CPU):")
    for v in variants {
        var plain = v
        plain.variant = .plain
        var parts: [String] = []
        for d in devices + ["pytorch"] {
            let paired = pairedRatios[v.text + "|" + plain.text]?[d].map(median)
            guard let ratio = paired ?? time(v, d).flatMap({ a in time(plain, d).map { a / $0 } }) else { continue }
            let verdict = d == "pytorch" ? "" : variantTarget(v.variant).map { ratio <= $0 ? " (met)" : " (NOT met)" } ?? ""
            parts.append(String(format: "%@ %.2f×%@", d == "pytorch" ? "pytorch eager/nn" : d, ratio, verdict))
        }
        if v.variant == .lnzoneout || v.variant == .lnproj {
            var layerNorm = v
            layerNorm.variant = .layernorm
            for d in devices + ["pytorch"] {
                let paired = pairedRatios[v.text + "|" + layerNorm.text]?[d].map(median)
                guard let ratio = paired ?? time(v, d).flatMap({ a in time(layerNorm, d).map { a / $0 } }) else { continue }
                let verdict = d == "pytorch" || v.variant == .lnproj ? "" : (ratio <= 1.3 ? " (met)" : " (NOT met)")
                parts.append(String(format: "%@ over layer norm alone %.2f×%@", d == "pytorch" ? "pytorch eager" : d, ratio, verdict))
            }
        }
        if let eager = time(v, "pytorch") {
            for d in devices {
                guard let ours = time(v, d) else { continue }
                let verdict = d == "cpu" ? (eager / ours >= 3 ? " (met)" : " (NOT met)") : ""
                parts.append(String(format: "pytorch eager/%@ %.2f×%@", d, eager / ours, verdict))
            }
        }
        log("  \(v.label) [\(v.variant.summary)]: " + (parts.isEmpty ? "no plain config timed beside it (add --config \(plain.text) for its cost)"
                                                                : parts.joined(separator: ", ")))
    }
}
