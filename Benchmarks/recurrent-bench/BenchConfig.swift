// What a benchmark run measures: configurations of the default grid and their FLOP counts.
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, G = gates.
import RecurrentKit

/// One benchmark configuration: a recurrent stack trained on (T, B, I) inputs.
struct BenchConfig: Hashable, Codable, Sendable {
    var cell: RecurrentCell
    var t: Int, b: Int, i: Int, h: Int, layers: Int
    /// "small", "medium", "large" for the default grid, else "custom".
    var size: String

    /// `CELL:T:B:I:H:L`, cell one of lstm, gru, rnn_tanh, rnn_relu.
    init(parsing text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 6, let cell = RecurrentCell(rawValue: parts[0]),
              let numbers = Optional(parts.dropFirst().compactMap { Int($0) }), numbers.count == 5, numbers.allSatisfy({ $0 > 0 }) else {
            throw BenchError("config '\(text)': expected CELL:T:B:I:H:L with CELL in lstm, gru, rnn_tanh, rnn_relu and positive sizes")
        }
        self.init(cell: cell, t: numbers[0], b: numbers[1], i: numbers[2], h: numbers[3], layers: numbers[4], size: "custom")
    }

    init(cell: RecurrentCell, t: Int, b: Int, i: Int, h: Int, layers: Int, size: String) {
        self.cell = cell; self.t = t; self.b = b; self.i = i; self.h = h; self.layers = layers; self.size = size
    }

    /// The default grid: LSTM and GRU small, medium and large; RNN (tanh) medium.
    static func grid(cells: [RecurrentCell], sizes: [String]) -> [BenchConfig] {
        let shapes: [(String, Int, Int, Int, Int, Int)] = [
            ("small", 50, 32, 32, 128, 1), ("medium", 100, 64, 128, 256, 2), ("large", 100, 128, 512, 512, 1),
        ]
        var configs: [BenchConfig] = []
        for cell in cells {
            for (size, t, b, i, h, l) in shapes where sizes.contains(size) {
                // Plain RNNs are benchmarked at the medium size only.
                if (cell == .rnnTanh || cell == .rnnRelu) && size != "medium" { continue }
                configs.append(BenchConfig(cell: cell, t: t, b: b, i: i, h: h, layers: l, size: size))
            }
        }
        return configs
    }

    var text: String { "\(cell.rawValue):\(t):\(b):\(i):\(h):\(layers)" }
    var label: String { "\(cell.rawValue) \(size) T\(t) B\(b) I\(i) H\(h) L\(layers)" }

    /// GEMM floating-point operations of one training step: forward 2·T·B·G·H·(I_l + H) per
    /// layer; backward twice that (dX and dW_ih, dh and dW_hh). Elementwise work is not counted.
    var flopsPerStep: Double {
        let g = Double(cell.gateCount)
        var forward = 0.0
        for l in 0..<layers {
            let input = Double(l == 0 ? i : h)
            forward += 2 * Double(t) * Double(b) * g * Double(h) * (input + Double(h))
        }
        return 3 * forward
    }
}

/// A benchmark failure with a message for the user.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
