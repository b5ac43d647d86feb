// The backend the test suites run on, chosen like the library does: RECURRENT_DEVICE.

import Foundation
import RecurrentKit

/// The device under test. `RECURRENT_DEVICE` names it (`cpu`, `opencl`, `opencl:P:D`, `auto`);
/// unset means `cpu`. One backend per test process, created on first use.
public enum TestDevice {
    /// The value of `RECURRENT_DEVICE`, or `cpu` when it is unset or empty.
    public static let specification: String = {
        let value = ProcessInfo.processInfo.environment["RECURRENT_DEVICE"] ?? ""
        return value.isEmpty ? "cpu" : value
    }()

    /// A backend of the device under test of its own (fresh memory counters), for tests that
    /// measure what a backend does.
    public static func makeBackend() throws -> any Backend {
        try Device.makeBackend(specification)
    }

    /// The backend under test. A device that cannot be opened stops the test run with the reason:
    /// silently testing another device would report a pass for the wrong one.
    public static let backend: any Backend = {
        do {
            return try Device.named(specification)
        } catch {
            fatalError("RECURRENT_DEVICE=\(specification): cannot open the device under test: \(error)")
        }
    }()
}
