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
///   - label: Names the compared tensor in the failure message.
/// - Returns: Whether the values agree.
@discardableResult
public func expectClose(_ actual: [Float], _ expected: [Float], absolute: Float = 1e-5, relative: Float = 1e-4,
                        _ label: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard let message = mismatchReport(actual, expected, absolute: absolute, relative: relative, label) else { return true }
    print(message)
    Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    return false
}

/// nil when `actual` and `expected` agree as `expectClose` defines; otherwise llm.c's
/// check_tensor report: the label, the first five actual and expected values, the largest
/// absolute difference with its index, and how many values differ.
public func mismatchReport(_ actual: [Float], _ expected: [Float], absolute: Float = 1e-5, relative: Float = 1e-4,
                           _ label: String) -> String? {
    guard actual.count == expected.count else {
        return "\(label): count mismatch, got \(actual.count) values, expected \(expected.count)"
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
            matches = difference <= absolute + relative * abs(e)
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

    var lines = ["\(label): \(mismatches) of \(actual.count) values differ (tolerance \(absolute) + \(relative)·|expected|)"]
    // The first values out of tolerance (the first values of all, where they match, say little).
    for index in firstMismatches {
        lines.append("  [\(index)] actual \(actual[index])  expected \(expected[index])")
    }
    lines.append("  max abs difference \(maxDifference) at index \(maxIndex) "
                 + "(actual \(actual[maxIndex]), expected \(expected[maxIndex]))")
    return lines.joined(separator: "\n")
}
