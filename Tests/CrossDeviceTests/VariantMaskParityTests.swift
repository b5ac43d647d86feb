// Recurrent dropout, weight-drop and zoneout masks on the CPU backend and on OpenCL: the same seed draws
// the same mask bits on both devices, so the dropped weights (the exact zeros of dL/dW_hh) are
// the same entries and the outputs and gradients agree within abs 1e-5 + rel 1e-4; plain and
// layer-normalised cells.
// T = time steps, B = batch, I = input size, H = hidden size.

import Testing
import TestSupport
@testable import RecurrentKit

@Suite(.enabled(if: Devices.haveOpenCL, "no OpenCL device on this machine"))
struct VariantMaskParityTests {
    /// One recorded call of a 2-layer bidirectional stack with the variants on `backend` (projected unless
    /// layer-normalised): the output and every parameter gradient, and the recurrent dropout masks drawn.
    static func run(_ cell: RecurrentCell, layerNorm: Bool, on backend: any Backend) throws
        -> (output: [Float], gradients: [String: [Float]], hiddenMask: [Float]) {
        let (t, b, i, h) = (6, 5, 3, 7)
        let variants = RecurrentVariants(recurrentDropout: 0.3, weightDrop: 0.5, zoneout: 0.2, cellZoneout: cell == .lstm ? 0.4 : 0,
                                         layerNorm: layerNorm)
        let rng = RandomSource(seed: 17)
        let net: RecurrentNetwork = cell == .lstm
            ? try LSTM(inputSize: i, hiddenSize: h, numLayers: 2, projSize: layerNorm ? 0 : 4, bidirectional: true, on: backend, rng: rng,
                       variants: variants)
            : try GRU(inputSize: i, hiddenSize: h, numLayers: 2, bidirectional: true, on: backend, rng: rng, variants: variants)
        let site = try #require(net.variantSite), replay = DropoutSite(rng: RandomSource(seed: 0))
        replay.restore(site.state("s"), "s")
        let hiddenMask = try replay.apply(Tensor.zeros([4, b, net.hiddenStateSize], on: backend, value: 1), probability: 0.3).1
        var random = TestRandom(seed: 18)
        let x = try random.tensor([t, b, i], on: backend)
        let gradOutput = try random.tensor([t, b, net.outputSize], on: backend)
        let result = try forwardBackward(net, SequenceBatch(x, lengths: [6, 3, 5, 1, 6]), gradOutput: gradOutput)
        return (try result.result.output.data.toArray(),
                Dictionary(uniqueKeysWithValues: try net.namedParameters.map { ($0.name, try $0.parameter.gradient.toArray()) }),
                try hiddenMask.toArray())
    }

    @Test(arguments: [RecurrentCell.lstm, .gru], [false, true])
    func masksAreTheSameBitsOnBothDevices(_ cell: RecurrentCell, _ layerNorm: Bool) throws {
        let cpu = try Self.run(cell, layerNorm: layerNorm, on: Devices.cpu), gpu = try Self.run(cell, layerNorm: layerNorm, on: Devices.gpu)
        #expect(cpu.hiddenMask == gpu.hiddenMask, "recurrent dropout masks differ between devices")
        let label = cell.rawValue + (layerNorm ? " layer norm" : "")
        expectClose(gpu.output, cpu.output, "\(label) output")
        for (name, value) in cpu.gradients {
            let other = try #require(gpu.gradients[name])
            expectClose(other, value, "\(label) grad \(name)")
            if name.hasPrefix("weight_hh") {
                let dropped = value.map { $0 == 0 }
                #expect(dropped == other.map { $0 == 0 }, "\(name): the dropped weights differ between devices")
                #expect(dropped.contains(true) && dropped.contains(false), "\(name): weight drop drops some weights, keeps others")
            }
        }
    }
}
