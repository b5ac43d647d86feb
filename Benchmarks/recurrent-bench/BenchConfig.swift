// What a benchmark run measures: configurations of the default grid and their FLOP counts.
// T = time steps, B = batch, I = input size, H = hidden size, L = layers, G = gates.
import RecurrentKit

/// One benchmark configuration: a recurrent stack trained on (T, B, I) inputs.
struct BenchConfig: Hashable, Codable, Sendable {
    var cell: RecurrentCell
    var t: Int, b: Int, i: Int, h: Int, layers: Int
    /// "small", "medium", "large", "padded", "varlen" for the default grid, else "custom".
    var size: String
    /// Variable lengths: each sequence's length is drawn uniformly from minimumLength...T (seeded);
    /// nil means every sequence runs all T steps.
    var minimumLength: Int? = nil
    /// The cell variant trained (`BenchVariant`); plain by default.
    var variant: BenchVariant = .plain

    /// `CELL[+VARIANT]:T:B:I:H:L[:MIN]`, cell one of lstm, gru, rnn_tanh, rnn_relu; VARIANT one of
    /// rdrop, zoneout, wdrop, layernorm, lnzoneout, lnproj (LSTM), resetbefore (GRU) (`BenchVariant`); MIN gives variable lengths.
    init(parsing text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        let numbers = parts.dropFirst().compactMap { Int($0) }
        let head = parts.first.map { $0.split(separator: "+", maxSplits: 1).map(String.init) } ?? []
        guard parts.count == 6 || parts.count == 7, let cellName = head.first, let cell = RecurrentCell(rawValue: cellName),
              numbers.count == parts.count - 1, numbers.allSatisfy({ $0 > 0 }), numbers.count == 5 || numbers[5] <= numbers[0] else {
            throw BenchError("config '\(text)': expected CELL[+VARIANT]:T:B:I:H:L[:MIN] with CELL in lstm, gru, rnn_tanh, rnn_relu, "
                             + "positive sizes and MIN ≤ T")
        }
        let variantName = head.count > 1 ? head[1] : "plain"
        guard let variant = BenchVariant(rawValue: variantName), variant.applies(to: cell) else {
            throw BenchError("config '\(text)': unknown variant '\(variantName)' for \(cell.rawValue), expected one of "
                             + BenchVariant.allCases.filter { $0.applies(to: cell) }.map(\.rawValue).joined(separator: ", "))
        }
        self.init(cell: cell, t: numbers[0], b: numbers[1], i: numbers[2], h: numbers[3], layers: numbers[4], size: "custom",
                  minimumLength: numbers.count == 6 ? numbers[5] : nil, variant: variant)
    }

    init(cell: RecurrentCell, t: Int, b: Int, i: Int, h: Int, layers: Int, size: String, minimumLength: Int? = nil,
         variant: BenchVariant = .plain) {
        self.cell = cell; self.t = t; self.b = b; self.i = i; self.h = h; self.layers = layers; self.size = size
        self.minimumLength = minimumLength
        self.variant = variant
    }

    /// The sequence lengths of a variable-length config (the same on every run and backend).
    var lengths: [Int]? {
        guard let minimumLength else { return nil }
        var stream = PhiloxStream(seed: 77, stream: 2_000_000)
        return (0..<b).map { _ in minimumLength + Int(stream.nextWord() % UInt32(t - minimumLength + 1)) }
    }

    /// Real steps over padded steps (1 without variable lengths).
    var tokenFraction: Double { lengths.map { Double($0.reduce(0, +)) / Double(t * b) } ?? 1 }

    /// The default grid: LSTM and GRU small, medium and large; RNN (tanh) medium; with "varlen",
    /// LSTM and GRU on variable lengths beside the same batch padded; with "variants", LSTM and GRU
    /// T50 B32 I32 H128 L1 and T100 B64 I128 H256 L1, plain and with each `BenchVariant` that applies.
    static func grid(cells: [RecurrentCell], sizes: [String]) -> [BenchConfig] {
        let shapes: [(String, Int, Int, Int, Int, Int)] = [
            ("small", 50, 32, 32, 128, 1), ("medium", 100, 64, 128, 256, 2), ("large", 100, 128, 512, 512, 1),
        ]
        var configs: [BenchConfig] = []
        // Variable lengths against the same batch padded: B64, T100, lengths uniform in [10, 100].
        if sizes.contains("varlen") {
            for cell in cells where cell == .lstm || cell == .gru {
                configs.append(BenchConfig(cell: cell, t: 100, b: 64, i: 128, h: 256, layers: 1, size: "padded"))
                configs.append(BenchConfig(cell: cell, t: 100, b: 64, i: 128, h: 256, layers: 1, size: "varlen", minimumLength: 10))
            }
        }
        // Each variant at the small size (per-step costs dominate, as in PyTorch's eager loops) and at
        // T100 B64 I128 H256 L1 (the products dominate), beside the plain cell of the same shape.
        if sizes.contains("variants") {
            for (t, b, i, h) in [(50, 32, 32, 128), (100, 64, 128, 256)] {
                for cell in cells where cell == .lstm || cell == .gru {
                    for variant in BenchVariant.allCases where variant.applies(to: cell) && variant.inGrid {
                        configs.append(BenchConfig(cell: cell, t: t, b: b, i: i, h: h, layers: 1, size: "variants", variant: variant))
                    }
                }
            }
        }
        for cell in cells {
            for (size, t, b, i, h, l) in shapes where sizes.contains(size) {
                // Plain RNNs are benchmarked at the medium size only.
                if (cell == .rnnTanh || cell == .rnnRelu) && size != "medium" { continue }
                configs.append(BenchConfig(cell: cell, t: t, b: b, i: i, h: h, layers: l, size: size))
            }
        }
        // The variants' plain cell is varlen's padded batch: time it once.
        var seen = Set<String>()
        return configs.filter { seen.insert($0.text).inserted }
    }

    /// The width of each output step: P with a projection, else H.
    var outputWidth: Int { variant.projSize(hiddenSize: h) > 0 ? variant.projSize(hiddenSize: h) : h }

    /// The cell with its variant, as configs name it: `lstm`, `lstm+zoneout`.
    var cellText: String { cell.rawValue + (variant == .plain ? "" : "+" + variant.rawValue) }
    var text: String { "\(cellText):\(t):\(b):\(i):\(h):\(layers)" + (minimumLength.map { ":\($0)" } ?? "") }
    var label: String {
        "\(cellText) \(size) T\(t) B\(b) I\(i) H\(h) L\(layers)" + (minimumLength.map { " lengths \($0)…\(t)" } ?? "")
    }

    /// GEMM floating-point operations of one training step: forward 2·T·B·G·H·(I_l + H) per
    /// layer; backward twice that (dX and dW_ih, dh and dW_hh), less layer 0's dX, 2·T·B·G·H·I,
    /// which the timed step does not compute (the input does not require grad, in the PyTorch
    /// twin either). Elementwise work is not counted.
    var flopsPerStep: Double {
        let g = Double(cell.gateCount)
        var forward = 0.0
        for l in 0..<layers {
            let input = Double(l == 0 ? i : h)
            forward += 2 * Double(t) * Double(b) * g * Double(h) * (input + Double(h))
        }
        let inputGradient = 2 * Double(t) * Double(b) * g * Double(h) * Double(i)
        return (3 * forward - inputGradient) * tokenFraction
    }
}

/// A benchmark failure with a message for the user.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
