import Testing
@testable import RecurrentCore

/// Random123's published known-answer vectors for Philox4x32-10 (Salmon et al. 2011, kat_vectors).
@Test(arguments: [
    (SIMD4<UInt32>(0, 0, 0, 0), SIMD2<UInt32>(0, 0), SIMD4<UInt32>(0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8)),
    (SIMD4<UInt32>(repeating: 0xFFFF_FFFF), SIMD2<UInt32>(repeating: 0xFFFF_FFFF),
     SIMD4<UInt32>(0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD)),
    (SIMD4<UInt32>(0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), SIMD2<UInt32>(0xA409_3822, 0x299F_31D0),
     SIMD4<UInt32>(0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1)),
])
func philoxKnownAnswers(counter: SIMD4<UInt32>, key: SIMD2<UInt32>, expected: SIMD4<UInt32>) {
    #expect(Philox.block(counter: counter, key: key) == expected)
}

@Test func philoxWordMapping() {
    // word(seed, stream, index) is word index % 4 of the block at counter (index/4 lo, hi, stream lo, hi).
    let seed: UInt64 = 0x1234_5678_9ABC_DEF0, stream: UInt64 = 0x0000_0007_0000_0003
    for index: UInt64 in [0, 1, 2, 3, 4, 7, 1 << 33 | 5] {
        let q = index / 4
        let block = Philox.block(counter: SIMD4(UInt32(q & 0xFFFF_FFFF), UInt32(q >> 32), 3, 7),
                                 key: SIMD2(0x9ABC_DEF0, 0x1234_5678))
        #expect(Philox.word(seed: seed, stream: stream, index: index) == block[Int(index % 4)])
    }
    // Different streams and seeds give different words.
    #expect(Philox.word(seed: 1, stream: 0, index: 0) != Philox.word(seed: 1, stream: 1, index: 0))
    #expect(Philox.word(seed: 1, stream: 0, index: 0) != Philox.word(seed: 2, stream: 0, index: 0))
}

@Test func unitFloatAndThreshold() {
    #expect(Philox.unitFloat(0) == 0)
    #expect(Philox.unitFloat(.max) == 1 - 0x1p-24)
    #expect(Philox.dropThreshold(probability: 0) == 0)
    #expect(Philox.dropThreshold(probability: 0.5) == 1 << 23)
    // Drop iff unitFloat(word) < p, decided with integers only.
    for p: Float in [0.1, 0.2, 0.3, 0.5, 0.9] {
        let t = Philox.dropThreshold(probability: p)
        for i: UInt64 in 0..<2000 {
            let w = Philox.word(seed: 9, stream: 1, index: i)
            #expect(((w >> 8) < t) == (Double(Philox.unitFloat(w)) < Double(p)))
        }
    }
}

@Test func streamStatistics() {
    var s = PhiloxStream(seed: 42, stream: 5)
    let u = s.uniform(count: 100_000, low: -2, high: 3)
    #expect(u.allSatisfy { $0 >= -2 && $0 < 3 })
    let mean = u.reduce(0, +) / Float(u.count)
    #expect(abs(mean - 0.5) < 0.02)
    #expect(s.position == 100_000)

    var n = PhiloxStream(seed: 42, stream: 6)
    let z = n.normal(count: 100_000, mean: 1, std: 2)
    let zm = z.reduce(0, +) / Float(z.count)
    let zv = z.reduce(0) { $0 + ($1 - zm) * ($1 - zm) } / Float(z.count)
    #expect(abs(zm - 1) < 0.03)
    #expect(abs(zv.squareRoot() - 2) < 0.03)
    #expect(z.allSatisfy { $0.isFinite })

    // Restarting a stream at a position reproduces the tail.
    var a = PhiloxStream(seed: 3, stream: 4)
    _ = a.uniform(count: 10, low: 0, high: 1)
    var b = PhiloxStream(seed: 3, stream: 4, position: 10)
    #expect(a.uniform(count: 5, low: 0, high: 1) == b.uniform(count: 5, low: 0, high: 1))
}

/// A stream draws word `position` of its block, which it computes once per four words: started
/// at every offset within a block and across a block boundary (and near the 2³²-word carry), the
/// words are `Philox.word`'s.
@Test(arguments: [0, 1, 2, 3, 5, (1 << 32) - 6] as [UInt64])
func streamWordsAreTheIndexedWords(start: UInt64) {
    var s = PhiloxStream(seed: 0xFEED_5EED, stream: 77, position: start)
    for index in start..<(start + 13) {
        #expect(s.nextWord() == Philox.word(seed: 0xFEED_5EED, stream: 77, index: index), "word \(index)")
    }
    #expect(s.position == start + 13)
}
