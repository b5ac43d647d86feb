// The OpenCL device as a small, complete thing: selection by name, errors that say what was
// found, kernel builds that report their log, memory that comes back, and training steps
// that copy nothing between host and device unless asked.

import Foundation
import Kernels
@testable import OpenCLBackend
import RecurrentKit
import TestSupport
import Testing

@Suite(.enabled(if: Devices.haveOpenCL, "no OpenCL device on this machine"))
struct OpenCLDeviceTests {
    @Test func namesResolveToListedDevices() throws {
        let devices = try OpenCLDevices.all()
        let first = try #require(devices.first)
        #expect(try Device.resolve("opencl") == first.specification)
        #expect(try Device.resolve(" OpenCL:\(first.platformIndex):\(first.deviceIndex) ") == first.specification)
        #expect(try Device.resolve("cpu") == "cpu")
        #expect(try Device.resolve("auto") == Device.automaticChoice.specification)
        // auto prefers a GPU or accelerator, else the CPU backend, and says which it picked.
        let expected = OpenCLDevices.preferred(among: devices)?.specification ?? "cpu"
        #expect(Device.automaticChoice.specification == expected)
        #expect(Device.automaticChoice.reason.contains("auto picked \(expected)"))
        // The shared backend is one per device.
        #expect(try Device.named("opencl") === Device.named(first.specification))
        #expect(try Device.named("opencl").name == first.specification)
    }

    @Test(arguments: ["opencl:9:0", "opencl:0:9", "opencl:x", "opencl:1", "gpu", "cuda:0"])
    func unmetRequestsListWhatExists(request: String) throws {
        let error = try #require(throws: RecurrentError.self) { try Device.named(request) }
        let message = "\(error)"
        #expect(message.contains("'\(request)'"), "\(message)")
        if request.hasPrefix("opencl:9") || request.hasPrefix("opencl:0:9") {
            // A well-formed request for a missing device lists the devices found.
            #expect(message.contains(try OpenCLDevices.all()[0].specification), "\(message)")
        } else {
            #expect(message.contains("opencl:P:D"), "\(message)")
        }
    }

    @Test func statusCodesHaveNames() throws {
        #expect(OpenCLStatus.name(-5) == "CL_OUT_OF_RESOURCES")
        #expect(OpenCLStatus.name(-4) == "CL_MEM_OBJECT_ALLOCATION_FAILURE")
        #expect(OpenCLStatus.name(-1017) == "CLBlastInvalidDimension")
        #expect(OpenCLStatus.name(-777) == "unknown status -777")
        let error = try #require(throws: RecurrentError.self) { try OpenCLStatus.check(-38, "clEnqueueReadBuffer", device: "opencl:0:0") }
        #expect("\(error)" == "clEnqueueReadBuffer failed on opencl:0:0: CL_INVALID_MEM_OBJECT")
    }

    /// A program that does not compile throws with the compiler's log; so does ours without the
    /// tuning defines the host must pass.
    @Test func buildFailuresCarryTheLog() throws {
        let backend = Devices.gpu
        let broken = "kernel void broken(global float* x) { x[0] = undeclared_name; }"
        let error = try #require(throws: RecurrentError.self) {
            try OpenCLDeviceContext.build(source: broken, options: "", context: backend.shared.context, device: backend.device)
        }
        guard case let .kernelBuild(_, _, log) = error else { Issue.record("expected kernelBuild, got \(error)"); return }
        #expect(log.contains("undeclared_name"), "\(log)")
        let missing = try #require(throws: RecurrentError.self) {
            try OpenCLDeviceContext.build(source: KernelSources.program, options: "", context: backend.shared.context,
                                          device: backend.device)
        }
        #expect("\(missing)".contains("WORK_GROUP_SIZE"), "\(missing)")
    }

    @Test func tuningComesFromTheTable() throws {
        let backend = Devices.gpu
        #expect(backend.shared.buildOptions.contains("-D WORK_GROUP_SIZE=\(backend.tuning.workGroupSize)"))
        #expect(backend.tuning.workGroupSize <= backend.device.maxWorkGroupSize)
        #expect(backend.tuning == (try OpenCLTuning.for(backend.device)))
        // RECURRENT_PACKED_WEIGHTS=0 takes the per-step CLBlast branch on every device; other values change nothing.
        let packingOff = try OpenCLTuning.for(backend.device, environment: ["RECURRENT_PACKED_WEIGHTS": "0"])
        #expect(!packingOff.packedProducts && packingOff.timeLoop == .gemm)
        #expect(try OpenCLTuning.for(backend.device, environment: ["RECURRENT_PACKED_WEIGHTS": "1"])
                == OpenCLTuning.for(backend.device, environment: [:]))
        // RECURRENT_OPENCL_TIME_LOOP chooses the loop over the table and over packing off; a typo is an error.
        for loop in OpenCLTimeLoop.allCases {
            let chosen = try OpenCLTuning.for(backend.device, environment: ["RECURRENT_PACKED_WEIGHTS": "0",
                                                                            OpenCLTimeLoop.environmentVariable: loop.rawValue])
            #expect(chosen.timeLoop == loop && !chosen.packedProducts)
        }
        let typo = try #require(throws: RecurrentError.self) {
            try OpenCLTuning.for(backend.device, environment: [OpenCLTimeLoop.environmentVariable: "fast"])
        }
        #expect("\(typo)".contains("gemm, fused or persistent"), "\(typo)")
    }

    @Test func memoryComesBackAndOversizeRequestsAreErrors() throws {
        let backend = try #require(try Device.makeBackend("opencl") as? OpenCLBackend)
        let before = try #require(backend.memoryStatistics())
        do {
            let t = try Tensor.zeros([1000, 17], on: backend)
            #expect(backend.memoryStatistics()?.bytesInUse == before.bytesInUse + 68_000)
            _ = try t.toArray()
        }
        #expect(backend.memoryStatistics()?.bytesInUse == before.bytesInUse)
        #expect(backend.releaseCachedMemory() >= 68_000)
        #expect(backend.memoryStatistics()?.bytesReserved == before.bytesReserved)

        let tooMany = backend.device.maxAllocationBytes / 4 + 1
        let error = try #require(throws: RecurrentError.self) { try Tensor.empty([tooMany], on: backend) }
        guard case .outOfMemory = error else { Issue.record("expected outOfMemory, got \(error)"); return }
        #expect("\(error)".contains(backend.name))
    }

    @Test func tensorsOfAnotherDeviceAreRefused() throws {
        let onCPU = try Tensor.zeros([4], on: Devices.cpu)
        let onGPU = try Tensor.zeros([4], on: Devices.gpu)
        let error = try #require(throws: RecurrentError.self) { try Devices.gpu.axpy(onGPU, alpha: 1, onCPU) }
        #expect("\(error)".contains("expected a tensor on \(Devices.gpu.name), got one on cpu"), "\(error)")
    }

    /// A training step with data already on the device copies nothing between host and device;
    /// the trainer's non-finite check reads back exactly the loss and the gradient norm.
    @Test func trainingStepsCopyNothingUnasked() throws {
        let backend = try #require(try Device.makeBackend("opencl") as? OpenCLBackend)
        let rng = RandomSource(seed: 5)
        let model = try Sequential([("rnn", LSTM(inputSize: 3, hiddenSize: 8, numLayers: 2, dropout: 0.2, on: backend, rng: rng)),
                                    ("last", LastTimeStep()), ("fc", Linear(8, 1, on: backend, rng: rng))])
        let trainer = Trainer(model: model, loss: MSELoss(), optimizer: try Adam(model.parameters), on: backend)
        trainer.clipNorm = 1
        var random = TestRandom(seed: 6)
        let x = try SequenceBatch(random.tensor([5, 4, 3], on: backend)), y = try random.tensor([4, 1], on: backend)
        trainer.nonFinitePolicy = .ignore
        let start = backend.transferStatistics
        for _ in 0..<3 { try trainer.trainStep(input: x, target: y) }
        try backend.synchronize()
        #expect(backend.transferStatistics == start)
        trainer.nonFinitePolicy = .stop
        try trainer.trainStep(input: x, target: y)
        #expect(backend.transferStatistics.downloads == start.downloads + 2)
        #expect(backend.transferStatistics.uploads == start.uploads)
    }
}
