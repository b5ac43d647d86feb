// Parameter blocks of the C cell kernels (Sources/CRecurrentGEMM/recurrent_cells.c) for whole
// (B, ·) row blocks: the per-step cell ops and the fused time loop both fill them here.
// B = rows, H = hidden size, G = gates.
import CRecurrentGEMM
import RecurrentCore

extension rk_cell_forward {
    /// A forward step over `rows` rows × all H units; `product` (B, G·H) with rows of G·H (nil: zero);
    /// `inference`: forward only, without the stores backward reads.
    init(rows: Int, hidden: Int, gateCount: Int, activation: Activation = .tanh, inference: Bool = false,
         gates: UnsafeMutablePointer<Float>, product: UnsafePointer<Float>?, biasIH: UnsafePointer<Float>,
         biasHH: UnsafePointer<Float>, previous: UnsafePointer<Float>?, state: UnsafeMutablePointer<Float>?,
         hiddenOut: UnsafeMutablePointer<Float>) {
        self.init(rows: Int32(rows), columns: Int32(hidden), hidden: Int32(hidden), gate_row: Int32(gateCount * hidden),
                  state_row: Int32(hidden), activation: activation == .relu ? RK_RELU : RK_TANH,
                  inference: inference ? 1 : 0, gates: gates, product: product, product_gate: Int32(hidden), product_row: Int32(gateCount * hidden),
                  bias_ih: biasIH, bias_hh: biasHH, previous: previous, state: state, hidden_out: hiddenOut)
    }
}

extension rk_cell_backward {
    /// A backward step over `rows` rows × all H units.
    init(rows: Int, hidden: Int, gateCount: Int, activation: Activation = .tanh,
         gates: UnsafePointer<Float>, state: UnsafePointer<Float>?, previous: UnsafePointer<Float>?,
         gradOutput: UnsafePointer<Float>?, gradHidden: UnsafeMutablePointer<Float>, gradCell: UnsafeMutablePointer<Float>?,
         gradGates: UnsafeMutablePointer<Float>, gradGatesHidden: UnsafeMutablePointer<Float>?) {
        self.init(rows: Int32(rows), columns: Int32(hidden), hidden: Int32(hidden), gate_row: Int32(gateCount * hidden),
                  state_row: Int32(hidden), activation: activation == .relu ? RK_RELU : RK_TANH, gates: gates,
                  state: state, previous: previous, grad_output: gradOutput, grad_hidden: gradHidden,
                  grad_cell: gradCell, grad_gates: gradGates, grad_gates_hidden: gradGatesHidden)
    }
}

/// The C constants as the struct fields' type.
private let RK_TANH = Int32(CRecurrentGEMM.RK_TANH), RK_RELU = Int32(CRecurrentGEMM.RK_RELU)
