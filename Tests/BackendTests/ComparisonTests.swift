// The comparison helper itself: what it accepts and what it reports.

import TestSupport
import Testing

@Suite struct ComparisonTests {
    @Test func acceptsValuesWithinTolerance() {
        #expect(mismatchReport([1, 2.00015, .nan, .infinity, 0.000_009], [1, 2, .nan, .infinity, 0], "within tolerance") == nil)
    }

    static let mismatches: [([Float], [Float], String)] = [
        ([1, 2], [1], "count mismatch, got 2 values, expected 1"),
        ([1, 2.001], [1, 2], "1 of 2 values differ"),
        ([.nan], [0], "1 of 1 values differ"),
        ([0], [.nan], "1 of 1 values differ"),
        ([5], [.infinity], "max abs difference inf at index 0 (actual 5.0, expected inf)"),
        ([.infinity], [-.infinity], "1 of 1 values differ"),
    ]

    @Test(arguments: mismatches)
    func reportsMismatch(actual: [Float], expected: [Float], fragment: String) throws {
        let report = try #require(mismatchReport(actual, expected, "label"))
        #expect(report.hasPrefix("label: "))
        #expect(report.contains(fragment), "\(report)")
    }
}
