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

    /// A sum's tolerance with its terms' magnitudes: -0.00274 from Σ |term| = 6.29 may be off by
    /// 1e-5 + 1e-4·0.00274 + 256 · 2⁻²⁴ · 6.29 = 1.06e-4, not by 1.2e-4; without the terms by
    /// 1.03e-5 only.
    @Test func sumsTakeRoundingsOfTheirTerms() throws {
        let expected: [Float] = [-0.00274, 1]
        let terms = (magnitudes: [Float(6.29), 1], roundings: Float(256))
        #expect(mismatchReport([-0.00274 + 5e-5, 1], expected, "no terms") != nil)
        #expect(mismatchReport([-0.00274 + 5e-5, 1], expected, terms: terms, "within") == nil)
        #expect(mismatchReport([-0.00274 - 1.05e-4, 1], expected, terms: terms, "within") == nil)
        let report = try #require(mismatchReport([-0.00274 + 1.2e-4, 1], expected, terms: terms, "beyond"))
        #expect(report.contains("1 of 2 values differ (tolerance 1e-05 + 0.0001·|expected| + 256.0·2⁻²⁴·Σ|term|)"), "\(report)")
        #expect(report.contains("Σ|term| 6.29"), "\(report)")
        #expect(mismatchReport([1], [1], terms: ([1, 2], 1), "label")?.contains("got 1 values, expected 1, 2 term magnitudes") == true)
    }
}
