// Before timing: one training step's loss, outputs and every gradient must agree across
// the backends, and each backend must agree with the plain-Swift reference.
import RecurrentKit
import ReferenceBackend

/// The outcome of comparing backends on one configuration.
struct Agreement {
    /// Whether every compared tensor was within tolerance.
    var agrees: Bool
    /// The largest normwise difference seen, max|a − e| / max|e|.
    var worstRelative: Double
    /// What was compared, and the worst tensor.
    var summary: String
}

/// Compares one forward/backward of `config` on each device with the first device, and each
/// device with the reference backend on a shortened copy (T ≤ 3, B ≤ 4; the naive reference
/// would take minutes on the full size). A tensor agrees when max|a − e| ≤ 1e-5 + 1e-4·max|e|;
/// at the full size, a tensor that fails that still agrees within the step's fp32 conditioning:
/// a difference of at most K · d, d how far a one-rounding nudge of the weights moves the tensor
/// on the first device (`RoundingSpread`, measured only when some tensor needs it).
func checkAgreement(_ config: BenchConfig, devices: [String]) throws -> Agreement {
    var worst = (relative: 0.0, what: "")
    var agrees = true
    var notes: [String] = []
    /// Compares each tensor of `e` with `a`; with `conditioning`, one that fails the strict rule
    /// is judged against the spread instead, and the pair's verdicts go into `notes`.
    func compare(_ a: [String: [Float]], _ e: [String: [Float]], _ what: String,
                 conditioning: (() throws -> RoundingSpread)? = nil) throws {
        // Tensors within K · d, ranked by difference / d; those beyond it, by normwise difference.
        var within: [(rank: Double, text: String)] = [], beyond: [(rank: Double, text: String)] = []
        for (name, expected) in e.sorted(by: { $0.key < $1.key }) {
            guard let actual = a[name], actual.count == expected.count else {
                agrees = false
                worst = (.infinity, "\(what) \(name): missing or wrong size")
                continue
            }
            let scale = Double(expected.map { abs($0) }.max() ?? 0)
            let diff = Double(zip(actual, expected).map { abs($0 - $1) }.max() ?? 0)
            let relative = diff / max(scale, 1e-30)
            if relative > worst.relative || relative.isNaN { worst = (relative, "\(what) \(name)") }
            if diff <= 1e-5 + 1e-4 * scale { continue }
            guard let yardstick = try conditioning?() else { agrees = false; continue }
            let d = yardstick.spread[name] ?? 0
            let text = "\(name): " + String(format: "difference %.1e of max, a one-rounding nudge of the weights moves it %.1e",
                                              relative, d / max(scale, 1e-30))
            if yardstick.allows(name, difference: diff) { within.append((diff / d, text)) } else { beyond.append((relative, text)) }
        }
        /// The verdict on a group of tensors, named by its tensor of highest rank.
        func note(_ group: [(rank: Double, text: String)], _ verdict: String, _ which: String) {
            guard let top = group.max(by: { $0.rank < $1.rank }) else { return }
            notes.append("\(what) \(verdict): " + (group.count == 1 ? "" : "\(group.count) tensors, \(which) ") + top.text)
        }
        if !beyond.isEmpty { agrees = false }
        note(beyond, "beyond \(Int(RoundingSpread.factor))× fp32 conditioning", "the farthest")
        note(within, "within fp32 conditioning", "the nearest its bound")
    }
    var short = config
    short.t = min(config.t, config.minimumLength == nil ? 3 : 6)
    short.b = min(config.b, config.minimumLength == nil ? 4 : 6)
    if config.minimumLength != nil { short.minimumLength = 1 }
    let reference = try oneStep(short, on: ReferenceBackend())
    var first: (backend: any Backend, result: [String: [Float]])? = nil
    var spread: RoundingSpread? = nil
    for device in devices {
        let backend = try Device.named(device)
        try compare(try oneStep(short, on: backend), reference, "\(device) vs reference (T\(short.t) B\(short.b))")
        let full = try oneStep(config, on: backend)
        guard let baseline = first else {
            first = (backend, full)
            continue
        }
        try compare(full, baseline.result, "\(device) vs \(devices[0])") {
            if let spread { return spread }
            let measured = try RoundingSpread(config, on: baseline.backend, baseline: baseline.result)
            spread = measured
            return measured
        }
    }
    let pairs = devices.count > 1 ? "\(devices.joined(separator: " vs ")) and each vs reference" : "\(devices[0]) vs reference"
    let detail = notes.isEmpty ? "" : " (" + notes.joined(separator: "; ") + ")"
    return Agreement(agrees: agrees, worstRelative: worst.relative,
                     summary: "\(pairs): worst \(String(format: "%.1e", worst.relative)) (\(worst.what))" + detail)
}

/// Loss, output, input gradient and every parameter gradient after one forward/backward, with
/// `prepare` run on the fresh step first (same seed: same weights, data and masks every time).
func oneStep(_ config: BenchConfig, on backend: any Backend,
             prepare: (TrainingStep) throws -> Void = { _ in }) throws -> [String: [Float]] {
    let step = try TrainingStep(config, on: backend, needsInputGradient: true)
    try prepare(step)
    let (loss, output, gradInput) = try step.forwardBackward()
    var result = ["loss": try loss.toArray(), "output": try output.toArray()]
    if let gradInput { result["grad.input"] = try gradInput.toArray() }
    for (name, p) in step.network.namedParameters { result["grad.\(name)"] = try p.gradient.toArray() }
    return result
}
