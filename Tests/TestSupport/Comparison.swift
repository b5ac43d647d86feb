// Comparing computed floats with expected ones, llm.c's check_tensor in Swift Testing.
// N = number of values compared.

import Testing

/// Records a test issue unless `actual` and `expected` agree elementwise:
/// `|a − e| ≤ absolute + relative·|e|`, with NaN matching only NaN and infinities only themselves.
///
/// On failure it prints (and records) the message of `mismatchReport`.
/// - Parameters:
///   - actual: The values computed by the code under test.
///   - expected: The reference values.
///   - absolute: The absolute part of the tolerance.
///   - relative: The relative part of the tolerance, scaled by `|expected|`.
///   - terms: For sums, Σ |term| of each value and how many roundings of it the tolerance adds
///     (`termRoundingTolerance`); nil for none.
///   - label: Names the compared tensor in the failure message.
/// - Returns: Whether the values agree.
@discardableResult
public func expectClose(_ actual: [Float], _ expected: [Float], absolute: Float = 1e-5, relative: Float = 1e-4,
                        terms: (magnitudes: [Float], roundings: Float)? = nil,
                        _ label: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard let message = mismatchReport(actual, expected, absolute: absolute, relative: relative, terms: terms, label)
    else { return true }
    print(message)
    Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    return false
}

/// nil when `actual` and `expected` agree as `expectClose` defines; otherwise llm.c's
/// check_tensor report: the label, the first five actual and expected values, the largest
/// absolute difference with its index, and how many values differ.
///
/// With `terms`, each value is a sum and `terms.magnitudes` holds Σ |term| of each: the tolerance
/// grows by `terms.roundings` · 2⁻²⁴ · Σ |term| (`termRoundingTolerance`).
public func mismatchReport(_ actual: [Float], _ expected: [Float], absolute: Float = 1e-5, relative: Float = 1e-4,
                           terms: (magnitudes: [Float], roundings: Float)? = nil, _ label: String) -> String? {
    guard actual.count == expected.count, terms.map({ $0.magnitudes.count == expected.count }) ?? true else {
        return "\(label): count mismatch, got \(actual.count) values, expected \(expected.count)"
            + (terms.map { ", \($0.magnitudes.count) term magnitudes" } ?? "")
    }
    var mismatches = 0
    var firstMismatches: [Int] = []
    var maxDifference: Float = 0, maxIndex = -1
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        // NaN matches only NaN, an infinity only itself; otherwise the tolerance decides.
        let difference: Float, matches: Bool
        if a.isNaN || e.isNaN || a.isInfinite || e.isInfinite {
            matches = a == e || (a.isNaN && e.isNaN)
            difference = matches ? 0 : .infinity
        } else {
            difference = abs(a - e)
            let rounding = terms.map { termRoundingTolerance($0.magnitudes[index], roundings: $0.roundings) } ?? 0
            matches = difference <= absolute + relative * abs(e) + rounding
        }
        if !matches {
            mismatches += 1
            if firstMismatches.count < 5 { firstMismatches.append(index) }
        }
        if difference > maxDifference || maxIndex < 0 {
            maxDifference = difference
            maxIndex = index
        }
    }
    guard mismatches > 0 else { return nil }

    let termsPart = terms.map { " + \($0.roundings)·2⁻²⁴·Σ|term|" } ?? ""
    var lines = ["\(label): \(mismatches) of \(actual.count) values differ (tolerance \(absolute) + \(relative)·|expected|\(termsPart))"]
    // The first values out of tolerance (the first values of all, where they match, say little).
    for index in firstMismatches {
        lines.append("  [\(index)] actual \(actual[index])  expected \(expected[index])"
                     + (terms.map { "  Σ|term| \($0.magnitudes[index])" } ?? ""))
    }
    lines.append("  max abs difference \(maxDifference) at index \(maxIndex) "
                 + "(actual \(actual[maxIndex]), expected \(expected[maxIndex]))")
    return lines.joined(separator: "\n")
}

/// The part of a sum's tolerance that its rounding takes: `roundings` · 2⁻²⁴ · Σ |term|.
///
/// A float sum of the same terms in another order, from terms that were themselves rounded
/// differently (a backend's gate gradients carry the rounding of every step after theirs),
/// lands within a few units of 2⁻²⁴ · Σ |term| of the exact sum: far more than a relative
/// tolerance of the sum allows where its terms cancel, and far less than a term lost or counted
/// twice, which moves it by that term.
public func termRoundingTolerance(_ magnitude: Float, roundings: Float) -> Float {
    roundings * 0x1p-24 * magnitude
}
