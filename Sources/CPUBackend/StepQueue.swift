// How the CPU backend's threads share the steps of a fused time loop (the plain cells' in
// RecurrentSteps.swift, the layer-normalised LSTM's and GRU's in LayerNormSteps.swift and the
// reset-before GRU's in ResetBeforeSteps.swift): the
// batch is cut into more row blocks than there are threads where it has the rows for it, and the
// threads claim the blocks' steps one at a time from an rk_step_queue (recurrent_stream.h), the
// block furthest behind first. The blocks are independent (each needs only its own rows of the
// step before), so a thread never waits for another while a block has a step to run. With one
// block per thread for the whole loop, the loop took as long as the slower thread, and on this
// 2-vCPU VM one vCPU runs 5–40% slower than the other for seconds at a time (the host's other
// load): per-thread busy time of the LSTM T100 B128 I512 H512 forward loop, three training steps
// in one quiet run, 280.8 / 230.0 ms, 212.3 / 295.8 ms and 222.4 / 234.2 ms.
// B = batch, T = time steps.
import CRecurrentGEMM
import Foundation
import RecurrentCore

/// How many row blocks the CPU backend's fused time loops cut the batch into.
public enum CPUStepBlocks: String, Sendable, CaseIterable {
    /// Two per thread where each block keeps 16 rows or more and a block's step 2²² multiply-adds
    /// or more, else one per thread.
    case automatic = "auto"
    /// One per thread.
    case perThread = "per-thread"
    /// Two per thread wherever each keeps 8 rows, for comparisons and tests.
    case twoPerThread = "two-per-thread"

    /// `RECURRENT_STEP_BLOCKS` (auto, per-thread, two-per-thread); automatic when it is unset.
    /// Another value is named on standard error and automatic is used.
    public static let fromEnvironment: CPUStepBlocks = {
        guard let text = ProcessInfo.processInfo.environment["RECURRENT_STEP_BLOCKS"] else { return .automatic }
        if let blocks = CPUStepBlocks(rawValue: text.lowercased()) { return blocks }
        FileHandle.standardError.write(Data("RECURRENT_STEP_BLOCKS=\(text): expected auto, per-thread or two-per-thread; using auto\n".utf8))
        return .automatic
    }()
}

extension CPUBackend {
    /// Row blocks for the fused time loops (`stepBlocks`): with two per thread a slower thread can
    /// leave steps to the other; else `batchBlocks(_:)`'s one per thread. Below the automatic
    /// choice's sizes a block step's fixed costs (and the weights read again for fewer rows)
    /// outweigh what the balance gains: RNN T100 B64 I128 H256 L2, 2²¹ multiply-adds per step of a
    /// 16-row block, took 43.8 / 40.5 / 57.1 ms per training step in one block per thread and
    /// 49.1 / 44.4 / 51.4 ms in 16-row blocks (quiet, interleaved).
    func stepBlocks(_ s: RecurrentLayerShape) -> [Range<Int>] {
        let rows = s.batchSize / (2 * batchParallelism)
        let two: Bool
        switch stepBlocks {
        case .automatic: two = rows >= 16 && rows * s.gateWidth * (s.inputSize + s.outputSize) >= 1 << 22
        case .perThread: two = false
        case .twoPerThread: two = true
        }
        return batchBlocks(s, parts: two ? 2 * batchParallelism : batchParallelism)
    }

    /// Runs body(block, k) for k in 0 ..< steps[block] of every block, in order of k within a block
    /// and one block step at a time per block, spread over the backend's threads by an
    /// rk_step_queue; a block's step k sees everything its steps before k wrote.
    func runBlockSteps(_ steps: [Int], _ body: @Sendable (_ block: Int, _ step: Int) -> Void) throws {
        let counts = steps.map { Int32(clamping: $0) }
        guard steps.count > 1, coreCount > 1, let made = counts.withUnsafeBufferPointer({ rk_step_queue_create(Int32($0.count), $0.baseAddress) }) else {
            for (block, count) in steps.enumerated() { for step in 0..<count { body(block, step) } }
            return
        }
        let queue = StepQueue(pointer: made)
        defer { rk_step_queue_destroy(made) }
        try runConcurrently(min(coreCount, steps.count)) { _ in
            var step: Int32 = 0
            while true {
                let block = rk_step_queue_claim(queue.pointer, &step)
                if block < 0 { return }
                body(Int(block), Int(step))
                rk_step_queue_release(queue.pointer, block)
            }
        }
    }
}

/// The queue the threads of one time loop claim block steps from.
struct StepQueue: @unchecked Sendable {
    // @unchecked: rk_step_queue is made for concurrent callers (atomics).
    let pointer: OpaquePointer
}
