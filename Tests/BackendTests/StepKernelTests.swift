// The OpenCL backend's time loops against the reference: the fused step kernels (one launch per
// step) and the persistent kernels (one launch per layer and direction; on PoCL a single
// work-group, the one safe layout there), at H ∈ {1, 3, 17, 129, 513} and B ∈ {1, 3, 64}, forward
// and backward with initial states, final-state gradients and input gradients; and the host's
// choice of when the persistent mode may run. Runs when the device under test is OpenCL.
// T = time steps, B = batch, H = hidden size, G = gates.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

/// The OpenCL device under test, if it is one.
private let openCLUnderTest = TestDevice.backend as? OpenCLBackend

@Suite(.enabled(if: openCLUnderTest != nil, "the device under test is not OpenCL"))
struct StepKernelTests {
    /// One backend per time loop on the device under test (the program is shared).
    static let backends: [OpenCLTimeLoop: OpenCLBackend] = {
        guard let device = openCLUnderTest?.device else { return [:] }
        var made: [OpenCLTimeLoop: OpenCLBackend] = [:]
        for loop in OpenCLTimeLoop.allCases { made[loop] = try? OpenCLBackend(device: device, timeLoop: loop) }
        return made
    }()

    static let sizes: [(h: Int, b: Int)] = [1, 3, 17, 129, 513].flatMap { h in [1, 3, 64].map { (h, $0) } }

    /// Every cell over the whole grid.
    static let cases: [RecurrentCase] = [RecurrentCell.lstm, .gru, .rnnTanh, .rnnRelu].flatMap { cell in
        sizes.map { layerCase(cell, h: $0.h, b: $0.b) }
    }

    /// T = 2, enough for every path of a step (a later step's gradient, the carried state, the
    /// initial state's); T = 1 past 1000 rows × units, where the reference's loops are slow.
    static func layerCase(_ cell: RecurrentCell, h: Int, b: Int) -> RecurrentCase {
        RecurrentCase(cell: cell, t: h * b > 1000 ? 1 : 2, b: b, i: 3, h: h, initialState: true, finalGradients: true,
                      gradOutput: true, inputGradients: true)
    }

    @Test(arguments: cases)
    func fusedMatchesReference(_ c: RecurrentCase) throws {
        let backend = try #require(Self.backends[.fused])
        let before = backend.launchCount
        try Side.$deviceOverride.withValue(backend) { try RecurrentLayerTests.expectLayerMatchesReference(c) }
        #expect(backend.launchCount > before)
    }

    @Test(arguments: cases)
    func persistentMatchesReference(_ c: RecurrentCase) throws {
        let backend = try #require(Self.backends[.persistent])
        let choice = backend.persistentChoice(for: c.shape)
        guard case .run(let plan) = choice else {
            Issue.record("\(c.testDescription): persistent mode refused on \(backend.device.name): \(choice)")
            return
        }
        if backend.tuning.residentGroupsPerComputeUnit == 0 { #expect(plan.groups == 1) }
        try Side.$deviceOverride.withValue(backend) { try RecurrentLayerTests.expectLayerMatchesReference(c) }
    }

    /// One launch per step each way, against the per-step loop's two or more.
    @Test func launchesPerStep() throws {
        let t = 6
        let shape = RecurrentLayerShape(cell: .lstm, sequenceLength: t, batchSize: 3, inputSize: 2, hiddenSize: 5)
        var counts: [OpenCLTimeLoop: Int] = [:]
        let device = try #require(openCLUnderTest).device
        for loop in OpenCLTimeLoop.allCases {
            // A backend of its own: the other tests launch on the shared ones meanwhile.
            let backend = try OpenCLBackend(device: device, timeLoop: loop)
            let before = backend.launchCount
            try runLayer(shape, on: backend)
            counts[loop] = backend.launchCount - before
        }
        // What the loops share: the same whole-sequence work around the time loop.
        let fused = try #require(counts[.fused]), gemm = try #require(counts[.gemm]), persistent = try #require(counts[.persistent])
        #expect(gemm - fused >= 2 * t, "per-step loop \(gemm) launches, fused \(fused)")
        // Fused: T steps each way, dh_0 and dc_0; persistent: a zeroed barrier counter and one kernel each way.
        #expect(fused - persistent == (2 * t + 2) - 4, "fused \(fused) launches, persistent \(persistent)")
    }

    /// Forward and backward of one layer with initial states and their gradients.
    private func runLayer(_ s: RecurrentLayerShape, on backend: OpenCLBackend) throws {
        let (n, b, h, gh) = (s.rowCount, s.batchSize, s.hiddenSize, s.gateWidth)
        func tensor(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape, on: backend, value: 0.1) }
        let w = RecurrentWeights(weightIH: try tensor([gh, s.inputSize]), weightHH: try tensor([gh, h]), biasIH: try tensor([gh]),
                                 biasHH: try tensor([gh]))
        let g = RecurrentWeights(weightIH: try tensor([gh, s.inputSize]), weightHH: try tensor([gh, h]), biasIH: try tensor([gh]),
                                 biasHH: try tensor([gh]))
        let input = try tensor([n, s.inputSize]), output = try tensor([n, h]), reserve = try tensor([s.reserveCount])
        let h0 = try tensor([b, h]), c0 = try tensor([b, h])
        try backend.recurrentForward(RecurrentForwardIO(output: output, reserve: reserve, input: input, initialHidden: h0,
                                                        initialCell: c0), w, s)
        try backend.recurrentBackward(RecurrentBackwardIO(gradInput: try tensor([n, s.inputSize]), gradInitialHidden: try tensor([b, h]),
                                                          gradInitialCell: try tensor([b, h]), gradOutput: try tensor([n, h]),
                                                          input: input, output: output, initialHidden: h0, initialCell: c0,
                                                          reserve: reserve), w, g, s)
        try backend.synchronize()
    }
}

/// When the persistent mode may run: the host's choice, for this device and for an H200-like one.
@Suite(.enabled(if: openCLUnderTest != nil, "the device under test is not OpenCL"))
struct PersistentChoiceTests {
    static func shape(_ cell: RecurrentCell = .lstm, b: Int = 4, h: Int = 256, batchSizes: [Int]? = nil,
                      projection: Int? = nil) -> RecurrentLayerShape {
        RecurrentLayerShape(cell: cell, sequenceLength: batchSizes?.count ?? 3, batchSize: b, inputSize: 8, hiddenSize: h,
                            batchSizes: batchSizes, projectionSize: projection)
    }

    /// PoCL runs work-groups on a pool of threads with no promise that all of them progress, so a
    /// device-wide barrier over several groups is refused there: one group is what runs.
    @Test func poclRefusesMoreThanOneGroup() throws {
        let backend = try #require(openCLUnderTest)
        try #require(backend.tuning.residentGroupsPerComputeUnit == 0, "\(backend.device.name) promises co-resident groups")
        guard case .refused(let why) = backend.persistentChoice(for: Self.shape(), groups: 2) else {
            Issue.record("two persistent groups were allowed on \(backend.device.name)")
            return
        }
        #expect(why.contains("does not guarantee"), "\(why)")
        #expect(backend.persistentChoice(for: Self.shape()) == .run(PersistentPlan(
            groups: 1, unitsPerGroup: 256, cachedWeightsPerGroup: min(4 * 256 * 256, backend.tuning.persistentLocalFloats))))
    }

    /// NVIDIA's table entry on a device of 132 compute units with 48 KiB of local memory per group.
    @Test func gpuChoiceKeepsGroupsResidentAndWeightsLocal() throws {
        let nvidia = try #require(OpenCLTuning.table.first { $0.fragment == "NVIDIA" }?.tuning)
        let h200 = PersistentLimits(name: "H200", computeUnits: 132, localMemoryBytes: 49152, maxWorkGroupSize: 1024)
        func choice(_ s: RecurrentLayerShape, groups: Int? = nil) -> PersistentChoice {
            OpenCLBackend.persistentChoice(for: s, groups: groups, tuning: nvidia, limits: h200)
        }
        // H = 256 LSTM: W_hh is 4·256·256 floats; 10 units (10240 floats) per group → 26 groups needed, 132 used.
        guard case .run(let plan) = choice(Self.shape()) else { Issue.record("refused: \(choice(Self.shape()))"); return }
        #expect(plan.groups <= 132 && plan.unitsPerGroup * 4 * 256 <= nvidia.persistentLocalFloats, "\(plan)")
        #expect(plan.groups * plan.unitsPerGroup >= 256, "\(plan)")
        // H = 1024 LSTM: 4096 floats per unit, 2 units per group → 512 groups > 132 resident: refused.
        if case .run(let p) = choice(Self.shape(h: 1024)) { Issue.record("H = 1024 ran with \(p)") }
        if case .run = choice(Self.shape(), groups: 133) { Issue.record("133 groups ran on 132 compute units") }
        if case .run = choice(Self.shape(b: 9)) { Issue.record("batch 9 ran past the cut-off 8") }
        if case .run = choice(Self.shape(b: 2, batchSizes: [2, 1])) { Issue.record("a packed batch ran persistent") }
        if case .run = choice(Self.shape(projection: 8)) { Issue.record("a projection ran persistent") }
        let small = PersistentLimits(name: "small", computeUnits: 8, localMemoryBytes: 16384, maxWorkGroupSize: 256)
        if case .run = OpenCLBackend.persistentChoice(for: Self.shape(h: 16), tuning: nvidia, limits: small) {
            Issue.record("ran with more local memory than the device has")
        }
        #expect(nvidia.ptxFences && !nvidia.measured)
        // The default entry never runs persistent.
        if case .run = OpenCLBackend.persistentChoice(for: Self.shape(h: 8), tuning: OpenCLTuning.fallback, limits: h200) {
            Issue.record("the default tuning ran persistent")
        }
    }
}
