// The two devices every cross-device test compares: the CPU backend and the first OpenCL device.

import RecurrentKit
import Testing

/// The CPU backend and the OpenCL backend (`RECURRENT_DEVICE=opencl`'s device) side by side.
enum Devices {
    /// The shared CPU backend.
    static let cpu: any Backend = Device.cpu

    /// The first OpenCL device (PoCL's CPU device on CI), or nil when this machine has none.
    static let openCL: OpenCLBackend? = try? Device.named("opencl") as? OpenCLBackend

    /// Whether an OpenCL device exists; the suites are disabled (and say so) when not.
    static var haveOpenCL: Bool { openCL != nil }

    /// The OpenCL backend; only called from tests enabled by `haveOpenCL`.
    static var gpu: OpenCLBackend {
        guard let openCL else { fatalError("no OpenCL device: the test should have been disabled") }
        return openCL
    }
}
