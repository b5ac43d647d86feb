// The comparison helper itself: what it accepts and what it reports.

import TestSupport
import Testing

@Suite struct ComparisonTests {
    @Test func acceptsValuesWithinTolerance() {
        #expect(expectClose([1, 2.00015, .nan, .infinity, 0.000_009], [1, 2, .nan, .infinity, 0], "within tolerance"))
    }

    static let mismatches: [([Float], [Float])] = [
        ([1, 2], [1]), ([1, 2.001], [1, 2]), ([.nan], [0]), ([0], [.nan]), ([5], [.infinity]), ([.infinity], [-.infinity]),
    ]

    @Test(arguments: mismatches)
    func reportsMismatch(actual: [Float], expected: [Float]) {
        withKnownIssue {
            #expect(!expectClose(actual, expected, "ComparisonTests: deliberate mismatch (a known issue)"))
        }
    }
}
