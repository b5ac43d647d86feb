// Axis ticks at numbers people read: "nice" steps of 1, 2 or 5 × 10^k on linear axes
// (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990), integers on count axes,
// decades with minor ticks at 2…9 × 10^k on logarithmic axes, and labels without spurious digits.
import Foundation

/// The ticks of one axis: the range the axis spans, labelled major ticks and unlabelled minor ones.
struct AxisTicks: Equatable {
    /// The axis runs from `lower` to `upper` (data units, not logarithms).
    var lower: Double, upper: Double
    /// Labelled tick positions, ascending, within [lower, upper].
    var major: [Double]
    /// Unlabelled tick positions (logarithmic axes: 2…9 × 10^k).
    var minor: [Double] = []
    /// The label of each major tick.
    var labels: [String]

    /// Heckbert's nice number near `x` > 0: 1, 2, 5 or 10 × 10^k, the nearest (`round`) or the
    /// smallest not below `x`.
    static func niceNumber(_ x: Double, round: Bool) -> Double {
        let exponent = floor(log10(x)), fraction = x / pow(10, exponent)
        let nice: Double
        if round {
            nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return nice * pow(10, exponent)
    }

    /// Loose labelling of [low, high] with about `count` ticks at multiples of a nice step; with
    /// `integers` the step is a whole number (epochs, steps).
    static func linear(_ low: Double, _ high: Double, count: Int = 6, integers: Bool = false) -> AxisTicks {
        var (low, high) = (min(low, high), max(low, high))
        if !low.isFinite || !high.isFinite { (low, high) = (0, 1) }
        if high - low < 1e-12 * max(1, abs(low)) {
            // One value: a unit (or a tenth of the value) around it.
            let pad = integers ? 1 : (low == 0 ? 1 : abs(low) * 0.1)
            (low, high) = (low - pad, high + pad)
        }
        let range = niceNumber(high - low, round: false)
        var step = niceNumber(range / Double(max(count - 1, 1)), round: true)
        if integers { step = max(1, step.rounded()) }
        let first = floor(low / step + 1e-9) * step, last = ceil(high / step - 1e-9) * step
        let n = Int(((last - first) / step).rounded())
        let values = (0...n).map { k -> Double in
            let v = first + Double(k) * step
            return abs(v) < step * 1e-9 ? 0 : v   // no "-0"
        }
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return AxisTicks(lower: first, upper: last, major: values, labels: values.map { label($0, decimals: decimals) })
    }

    /// Decades covering [low, high] (both > 0), labelled, with minor ticks at 2…9 × 10^k when they
    /// fit; over many decades every second or fifth decade is labelled. A range within one decade
    /// also labels 2 × and 5 × 10^k.
    static func logarithmic(_ low: Double, _ high: Double) -> AxisTicks {
        var (low, high) = (min(low, high), max(low, high))
        if !(low > 0) || !high.isFinite { (low, high) = (1, 10) }
        var a = Int(floor(log10(low) + 1e-6)), b = Int(ceil(log10(high) - 1e-6))   // Float inputs: 1e-6 is 9.99999997e-7
        if b <= a { b = a + 1 }
        let decades = b - a
        let every = decades <= 8 ? 1 : decades <= 16 ? 2 : decades <= 40 ? 5 : 10
        a = Int(floor(Double(a) / Double(every))) * every
        b = Int(ceil(Double(b) / Double(every))) * every
        var major = stride(from: a, through: b, by: every).map { pow(10, Double($0)) }
        var minor: [Double] = []
        if every == 1 {
            for k in a..<b { for m in 2...9 { minor.append(Double(m) * pow(10, Double(k))) } }
        } else {
            minor = (a...b).filter { ($0 - a) % every != 0 }.map { pow(10, Double($0)) }
        }
        if b - a == 1 {
            let extra = [2.0, 5.0].map { $0 * pow(10, Double(a)) }
            major = (major + extra).sorted()
            minor.removeAll { m in extra.contains { abs($0 - m) < 1e-9 * m } }
        }
        return AxisTicks(lower: pow(10, Double(a)), upper: pow(10, Double(b)), major: major, minor: minor,
                         labels: major.map(logLabel))
    }

    /// `value` with `decimals` digits after the point, in exponent form only when very large or small.
    static func label(_ value: Double, decimals: Int) -> String {
        if value != 0 && (abs(value) >= 1e6 || abs(value) < 1e-4) { return exponentLabel(value) }
        return String(format: "%.\(decimals)f", value)
    }

    /// m × 10^k as "0.002", "50", "1e-5" or "2e6": plain between 0.001 and 10000, else exponent form.
    static func logLabel(_ value: Double) -> String {
        let k = Int(floor(log10(value) + 1e-9))
        if k >= -3 && k <= 4 { return label(value, decimals: max(0, -k)) }
        return exponentLabel(value)
    }

    /// "1e-5", "2.5e6": the shortest mantissa, no "+", no leading zeros in the exponent.
    static func exponentLabel(_ value: Double) -> String {
        let k = Int(floor(log10(abs(value)) + 1e-9))
        var mantissa = String(format: "%.2f", value / pow(10, Double(k)))
        while mantissa.hasSuffix("0") { mantissa.removeLast() }
        if mantissa.hasSuffix(".") { mantissa.removeLast() }
        return "\(mantissa)e\(k)"
    }
}
