// The CPU backend's vectorised Philox kernels (CRecurrentGEMM's recurrent_random.h), every build
// this CPU runs (portable, AVX2, AVX-512) in one process, against RecurrentCore's scalar Philox:
// counts that end mid-vector and mid-block, offsets that start mid-block, cross 2^32 in the
// block counter's low word and wrap at 2^64. N = elements.

import CRecurrentGEMM
import RecurrentCore
import Testing

@Suite struct PhiloxKernelTests {
    /// The builds this CPU runs, narrowest first.
    static let builds: [Int32] = Array(Int32(RK_ISA_PORTABLE)...rk_cpu_isa())

    static let counts = [0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 63, 64, 65, 67, 129, 1031]

    /// (seed, stream, offset): a block counter whose low word carries into its high word within a vector (2^34 − 13),
    /// large keys, and offsets wrapping at 2^64 (the block index wraps at 2^62).
    static let keys: [(UInt64, UInt64, UInt64)] = [
        (0, 0, 0), (1, 2, 3), (0xDEAD_BEEF_1234, 7, 12_345),
        (0xFEDC_BA98_7654_3210, 0x8000_0001_0000_0005, (1 << 34) - 13),
        (0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_0000_0000, (7 << 32) - 2), (42, 7, UInt64.max - 6), (9, 1 << 63, UInt64.max - 130),
    ]

    @Test(arguments: keys)
    func wordsMatchScalarPhilox(seed: UInt64, stream: UInt64, offset: UInt64) {
        for build in Self.builds {
            for n in Self.counts {
                var words = [UInt32](repeating: 0xA5A5_A5A5, count: n + 1)
                words.withUnsafeMutableBufferPointer { rk_philox_words_build(build, $0.baseAddress, n, seed, stream, offset) }
                let expected = (0..<UInt64(n)).map { Philox.word(seed: seed, stream: stream, index: offset &+ $0) }
                let differing = (0..<n).filter { words[$0] != expected[$0] }
                #expect(differing.isEmpty, """
                    build \(build), \(n) words from offset \(offset) (seed \(seed), stream \(stream)): \(differing.count) differ, \
                    first at \(differing.first.map { "\($0): kernel \(words[$0]), scalar \(expected[$0])" } ?? "-")
                    """)
                #expect(words[n] == 0xA5A5_A5A5, "build \(build) wrote past \(n) words")
            }
        }
    }

    @Test(arguments: [Float(0), 0.1, 0.5, 0.9])
    func dropoutMatchesScalarDefinition(probability p: Float) {
        let threshold = Philox.dropThreshold(probability: p), keepScale = 1 / (1 - p)
        for build in Self.builds {
            for (seed, stream, offset) in Self.keys {
                for n in Self.counts {
                    let x = (0..<n).map { Float($0 % 13) - 6.5 }
                    var y = [Float](repeating: .nan, count: n + 1), mask = y
                    y.withUnsafeMutableBufferPointer { py in
                        mask.withUnsafeMutableBufferPointer { pm in
                            rk_dropout_forward_build(build, py.baseAddress, pm.baseAddress, x, n, seed, stream, offset,
                                                     threshold, keepScale)
                        }
                    }
                    let expected: [Float] = (0..<n).map { e in
                        (Philox.word(seed: seed, stream: stream, index: offset &+ UInt64(e)) >> 8) >= threshold ? keepScale : 0
                    }
                    let wrong = (0..<n).filter { mask[$0].bitPattern != expected[$0].bitPattern
                        || y[$0].bitPattern != (x[$0] * expected[$0]).bitPattern }
                    #expect(wrong.isEmpty, "build \(build), p \(p), \(n) elements from offset \(offset): \(wrong.count) differ, first \(wrong.first ?? -1)")
                    #expect(y[n].isNaN && mask[n].isNaN, "build \(build) wrote past \(n) elements")
                }
            }
        }
    }
}
