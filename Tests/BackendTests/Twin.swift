// Test scaffolding: the same host data on the device under test and on the reference backend.
// Each twin tensor is a view at a non-zero offset inside a padded buffer, so every op is also
// checked for honouring `Tensor.offset` and for not writing outside its view.

import RecurrentKit
import ReferenceBackend
import TestSupport
import Testing

/// The two backends every test runs: the device under test and the plain reference.
enum Side: CaseIterable {
    case device, reference

    /// The shared reference backend (tensors are tied to one instance).
    static let referenceBackend = ReferenceBackend()

    /// A backend that stands in for the device under test within `Side.$deviceOverride.withValue`.
    @TaskLocal static var deviceOverride: (any Backend)?

    var backend: any Backend {
        switch self {
        case .device: return Side.deviceOverride ?? TestDevice.backend
        case .reference: return Side.referenceBackend
        }
    }
}

/// Runs `body` once on each backend; the body picks each twin's tensor with `twin[side]`.
func onBoth(_ body: (any Backend, Side) throws -> Void) throws {
    for side in Side.allCases { try body(side.backend, side) }
}

/// One tensor uploaded with the same values to both backends, inside padded buffers.
struct Twin {
    /// Elements of padding before and after the view (odd, so views are not aligned).
    static let padding = 3
    /// The value the padding holds; any other value there after an op means it wrote out of bounds.
    static let sentinel: Float = -12345.5

    let device: Tensor
    let reference: Tensor

    /// Uploads `values` with `shape` to both backends.
    init(_ shape: [Int], _ values: [Float], padding: Int = Twin.padding) throws {
        precondition(shape.reduce(1, *) == values.count, "Twin: \(values.count) values for shape \(shape)")
        func make(_ backend: any Backend) throws -> Tensor {
            let padded = [Float](repeating: Twin.sentinel, count: padding) + values
                + [Float](repeating: Twin.sentinel, count: padding)
            let base = try Tensor(shape: [padded.count], values: padded, on: backend)
            return try Tensor(shape: shape, buffer: base.buffer, offset: padding, backend: backend)
        }
        device = try make(Side.device.backend)
        reference = try make(Side.reference.backend)
    }

    /// Random values uniform in [low, high).
    init(_ shape: [Int], _ random: inout TestRandom, low: Float = -1, high: Float = 1) throws {
        try self.init(shape, random.uniform(count: shape.reduce(1, *), low: low, high: high))
    }

    /// A constant tensor (NaN by default: for outputs that must be overwritten).
    init(_ shape: [Int], filledWith value: Float = .nan) throws {
        try self.init(shape, [Float](repeating: value, count: shape.reduce(1, *)))
    }

    subscript(side: Side) -> Tensor {
        side == .device ? device : reference
    }

    /// Compares the device's values with the reference's and checks the device's padding.
    @discardableResult
    func expectClose(_ label: String, absolute: Float = 1e-5, relative: Float = 1e-4,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        let ok = TestSupport.expectClose(try device.toArray(), try reference.toArray(),
                                         absolute: absolute, relative: relative, label, sourceLocation: sourceLocation)
        return try expectPaddingIntact(label, sourceLocation: sourceLocation) && ok
    }

    /// `expectClose` for a tensor of sums (a parameter gradient over every step and row): where
    /// a value fails abs 1e-5 + rel 1e-4, `termMagnitudes()` (Σ |term| of every value, asked for
    /// only then) lets it also take `roundings` · 2⁻²⁴ · Σ |term| (`termRoundingTolerance`).
    @discardableResult
    func expectSumsClose(_ label: String, roundings: Float, termMagnitudes: () throws -> [Float],
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        let (actual, expected) = (try device.toArray(), try reference.toArray())
        // Compared once with the plain tolerance; only a failing tensor is compared again with its terms.
        var ok = true
        if mismatchReport(actual, expected, label) != nil {
            ok = TestSupport.expectClose(actual, expected, terms: (try termMagnitudes(), roundings), label,
                                         sourceLocation: sourceLocation)
        }
        return try expectPaddingIntact(label, sourceLocation: sourceLocation) && ok
    }

    /// Records an issue if the device wrote into the padding around the view.
    @discardableResult
    func expectPaddingIntact(_ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        let whole = try Tensor(shape: [device.buffer.count], buffer: device.buffer, backend: device.backend).toArray()
        let outside = Array(whole[..<device.offset]) + Array(whole[(device.offset + device.count)...])
        let intact = outside.allSatisfy { $0 == Twin.sentinel }
        if !intact {
            Issue.record("\(label): the device wrote outside the view (offset \(device.offset), count \(device.count))",
                         sourceLocation: sourceLocation)
        }
        return intact
    }
}
