// The memory the sizing options imply, worked out in Double (no overflow) and checked against
// the memory there is before anything is allocated: an absurd --hidden-size, --layers,
// --batch-size, --window, --length or --samples is a one-line error naming the option.
import Foundation
import RecurrentKit

enum MemoryCheck {
    /// Bytes of memory there is for a run on `backend`: the host's available memory, and no more
    /// than the device's allocator may hold.
    static func availableBytes(on backend: (any Backend)?) -> Int {
        min(HostMemory.availableBytes, backend?.memoryLimits?.heldBytes ?? .max)
    }

    /// Throws a one-line error naming `options` unless `bytes` (the sum of `parts`, each a
    /// description and its bytes) fit in `available`.
    static func require(_ parts: [(what: String, bytes: Double)], options: [(flag: String, value: Int)], available: Int) throws {
        let total = parts.reduce(0) { $0 + $1.bytes }
        guard !(total <= Double(available)) else { return }
        let flags = options.map { "\($0.flag) \($0.value)" }.joined(separator: ", ")
        throw UserFacingError(description: "\(flags): \(parts.map(\.what).joined(separator: " and ")) would need "
                              + "\(describe(total)), but \(describe(Double(available))) of memory are available; pass smaller sizes")
    }

    /// A recurrent training run: the weights with their gradients and two optimizer moments
    /// (and the host copy they start from), and one batch's activations kept for backward.
    static func requireTraining(cell: String, inputSize: Int, hiddenSize: Int, layers: Int, batchSize: Int, steps: Int,
                                outputSize: Int, extraParameters: Double = 0, options: [(flag: String, value: Int)],
                                on backend: (any Backend)?) throws {
        let gates: Double = switch cell.lowercased() { case "lstm": 4; case "gru": 3; default: 1 }
        let h = Double(hiddenSize), l = Double(layers)
        let parameters = l * gates * h * (max(Double(inputSize), h) + h + 2) + h * Double(outputSize) + extraParameters
        let activations = Double(batchSize) * Double(steps) * (l * h * (gates + 4) * 2 + Double(inputSize) + 2 * Double(outputSize))
        try require([("the model's weights, gradients and optimizer state", 5 * 4 * parameters),
                     ("a batch's activations", 4 * activations)],
                    options: options, available: availableBytes(on: backend))
    }

    /// `bytes` for people: "1.6e+11 bytes (160 GB)".
    private static func describe(_ bytes: Double) -> String {
        bytes >= 1e6 ? String(format: "%.3g bytes (%.3g GB)", bytes, bytes / 1e9) : String(format: "%.0f bytes", bytes)
    }
}
