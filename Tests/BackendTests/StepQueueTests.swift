// rk_step_queue, which the CPU backend's fused time loops share their row blocks' steps through
// (StepQueue.swift): with several threads claiming at once, every step of every block is handed
// out exactly once, a block's steps in order and never two of one block at the same time, and
// blocks without steps are skipped. Then the layers through it with two row blocks per thread
// (`CPUStepBlocks.twoPerThread`) against the reference: RecurrentLayerTests' cases of 32 rows or
// more (B = 34 packed, 50, 66 packed), plain, with recurrent dropout, with zoneout, projected; and
// the same for the layer-normalised LSTM and GRU loops (LayerNormSteps.swift; LSTMs also projected)
// and the reset-before GRU's (ResetBeforeSteps.swift), with packed batches of uneven lengths ending
// inside the blocks.

import RecurrentKit
import CRecurrentGEMM
import Dispatch
import TestSupport
import Testing

@Suite struct StepQueueTests {
    /// The queue's handle and the per-block records, shared by the claiming threads.
    final class Shared: @unchecked Sendable {
        // @unchecked: record[b] is written only by the thread that holds block b in the queue,
        // whose claim orders it after the writes of the block's earlier holders.
        let queue: OpaquePointer
        var record: [[Int]]
        init(queue: OpaquePointer, blocks: Int) { (self.queue, record) = (queue, Array(repeating: [], count: blocks)) }
    }

    @Test(arguments: [1, 2, 4])
    func everyStepOnceInOrder(_ threads: Int) throws {
        let steps: [Int32] = [7, 0, 3, 40, 1, 25]
        let made = try #require(steps.withUnsafeBufferPointer { rk_step_queue_create(Int32($0.count), $0.baseAddress) })
        defer { rk_step_queue_destroy(made) }
        let shared = Shared(queue: made, blocks: steps.count)
        shared.record.withUnsafeMutableBufferPointer { records in
            let base = records.baseAddress!
            let pointer = SendablePointer(base: base)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                var step: Int32 = 0
                while true {
                    let block = rk_step_queue_claim(shared.queue, &step)
                    if block < 0 { return }
                    pointer.base[Int(block)].append(Int(step))
                    rk_step_queue_release(shared.queue, block)
                }
            }
        }
        for (b, count) in steps.enumerated() {
            #expect(shared.record[b] == Array(0..<Int(count)), "block \(b) with \(threads) threads: \(shared.record[b])")
        }
    }

    static let blockCases: [RecurrentCase] = (RecurrentCase.all + RecurrentLayerTests.masked + RecurrentCase.projected).filter { $0.b >= 32 }
        + RecurrentLayerTests.masked.filter { $0.b >= 32 }.map { c in
            var zoned = c
            zoned.zoneout = true
            return zoned
        } + [
            // Projected over 4 blocks balanced by tokens.
            RecurrentCase(cell: .lstm, t: 7, b: 66, i: 3, h: 6, initialState: true, finalGradients: true,
                          gradOutput: true, inputGradients: true, batchSizes: [66, 60, 41, 33, 20, 8, 3], projection: 4),
        ]

    @Test(arguments: blockCases)
    func twoBlocksPerThreadMatchReference(_ c: RecurrentCase) throws {
        try Self.expectTwoBlocksPerThreadMatchReference(c)
    }

    /// B = 50 in lengths 1…6 over four blocks balanced by tokens, sequences ending inside each: every
    /// variant loop's cell with recurrent dropout and zoneout; a projected LSTM; no dh_0 asked for; no h_0.
    static let packedVariantCases: [RecurrentCase] = {
        let sizes = [50, 47, 33, 21, 12, 5]
        func packed(_ cell: RecurrentCell, initialState: Bool = true, inputGradients: Bool = true, projection: Int? = nil,
                    resetBefore: Bool = false, layerNorm: Bool = false) -> RecurrentCase {
            RecurrentCase(cell: cell, t: 6, b: 50, i: 5, h: 20, initialState: initialState, finalGradients: true,
                          gradOutput: true, inputGradients: inputGradients, batchSizes: sizes, projection: projection,
                          hiddenMask: true, zoneout: true, resetBefore: resetBefore, layerNorm: layerNorm)
        }
        return [packed(.lstm, layerNorm: true), packed(.gru, layerNorm: true), packed(.lstm, projection: 7, layerNorm: true),
                packed(.lstm, inputGradients: false, layerNorm: true), packed(.gru, inputGradients: false, layerNorm: true),
                packed(.gru, initialState: false, resetBefore: true), packed(.gru, inputGradients: false, resetBefore: true)]
    }()

    /// The layer-normalised LSTM and GRU (also with zoneout, and LSTMs projected) and the reset-before GRU
    /// on RecurrentLayerTests' shapes of 32 rows or more (B = 34 packed, 50, 66 packed, with recurrent
    /// dropout and with zoneout), then `packedVariantCases`.
    static let variantBlockCases: [RecurrentCase] = (RecurrentLayerTests.layerNormalised
        + RecurrentLayerTests.layerNormalised.map { c in
            var zoned = c
            zoned.zoneout = true
            return zoned
        } + RecurrentLayerTests.layerNormProjected + RecurrentLayerTests.resetBefore).filter { $0.b >= 32 } + packedVariantCases

    /// Only where the fused loops run: with RECURRENT_PACKED_WEIGHTS=0 (or without AVX2/FMA) these
    /// layers take the shared per-step loop, which has no row blocks to test, and whose fp32 rounding
    /// of layer-normalised zoneout stacks RecurrentLayerTests already covers at its own shapes.
    @Test(.enabled(if: CPUBackend().fusesTimeLoop, "the fused time loops are off: no row blocks"), arguments: variantBlockCases)
    func variantLoopsTwoBlocksPerThreadMatchReference(_ c: RecurrentCase) throws {
        try Self.expectTwoBlocksPerThreadMatchReference(c)
    }

    /// `RecurrentLayerTests.expectLayerMatchesReference` with the device a CPU backend of two row blocks per thread.
    static func expectTwoBlocksPerThreadMatchReference(_ c: RecurrentCase) throws {
        try Side.$deviceOverride.withValue(CPUBackend(stepBlocks: .twoPerThread)) {
            try RecurrentLayerTests.expectLayerMatchesReference(c)
        }
    }

    /// The records' storage, for the claiming threads.
    struct SendablePointer: @unchecked Sendable {
        // @unchecked: see `Shared`.
        let base: UnsafeMutablePointer<[Int]>
    }
}
