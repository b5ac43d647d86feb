// The generated tasks hold what their documentation says.

import RecurrentKit
import Testing

@Test func addingProblemMarksOneValueInEachHalfAndSumsThem() throws {
    let (n, t) = (50, 13)
    let data = try SyntheticData.addingProblem(count: n, length: t, seed: 3)
    #expect(data.featureCount == 2 && data.targetLayout == .perSequence([1]))
    for s in 0..<n {
        let steps = (0..<t).map { (value: data.inputs[(s * t + $0) * 2], marker: data.inputs[(s * t + $0) * 2 + 1]) }
        let marked = steps.indices.filter { steps[$0].marker == 1 }
        #expect(marked.count == 2 && marked[0] < t / 2 && marked[1] >= t / 2)
        #expect(steps.allSatisfy { $0.marker == 0 || $0.marker == 1 } && steps.allSatisfy { $0.value >= 0 && $0.value < 1 })
        #expect(data.targets[s] == steps[marked[0]].value + steps[marked[1]].value)
    }
    // Different seeds, different data; the same seed, the same data.
    #expect(try SyntheticData.addingProblem(count: n, length: t, seed: 4).inputs != data.inputs)
    #expect(try SyntheticData.addingProblem(count: n, length: t, seed: 3).inputs == data.inputs)
}

@Test func copyMemoryRepeatsTheSymbolsAfterTheDelimiter() throws {
    let (n, delay) = (20, 7)
    let data = try SyntheticData.copyMemory(count: n, delay: delay, seed: 5)
    let (t, f, s) = (delay + 20, SyntheticData.copyInputCategories, SyntheticData.copySymbolCount)
    #expect(data.sequenceLength == t && data.featureCount == f && data.targetLayout == .perStep([]))
    for sample in 0..<n {
        let categories = (0..<t).map { step -> Int in
            let row = data.inputs[((sample * t + step) * f)..<((sample * t + step + 1) * f)]
            #expect(row.reduce(0, +) == 1, "one-hot input")
            return row.firstIndex(of: 1)! - row.startIndex
        }
        let targets = (0..<t).map { Int(data.targets[sample * t + $0]) }
        #expect(categories[0..<s].allSatisfy { (1...8).contains($0) })
        #expect(categories[s + delay - 1] == 9)
        #expect(categories.enumerated().allSatisfy { $0.offset < s || $0.offset == s + delay - 1 || $0.element == 0 })
        #expect(Array(targets[(t - s)...]) == Array(categories[0..<s]))
        #expect(targets[..<(t - s)].allSatisfy { $0 == 0 })
    }
}
