// The recurrent variants a benchmark configuration can train with (`CELL+VARIANT:...`), each at
// one fixed probability, so that its step time is compared with the plain cell's in the same run.
// R = width of h, H = hidden size.
import RecurrentKit

/// A cell variant of a benchmark configuration: the plain cell, or one of the regularisers.
enum BenchVariant: String, CaseIterable, Codable, Sendable {
    /// PyTorch's plain cell.
    case plain
    /// Recurrent (variational) dropout on h_{t-1}, p = 0.25: one (B, R) mask per sequence.
    case rdrop
    /// Zoneout, p = 0.1 on h and (LSTM) on c: factors drawn per step.
    case zoneout
    /// Weight drop on W_hh, p = 0.5 (AWD-LSTM): one mask per batch.
    case wdrop
    /// GRU only: the reset gate before the recurrent product (Keras's `reset_after=False`).
    case resetbefore
    /// LSTM and GRU: layer norm on the input and recurrent pre-activations (and on c_t for LSTM).
    case layernorm
    /// LSTM only: layer norm with zoneout p = 0.1 on h and c (the two composed).
    case lnzoneout
    /// LSTM only: layer norm with a projection to P = H/2 (`projSize`); set against layer norm alone.
    /// Named configurations only (not in the "variants" grid): the PyTorch twin has no eager loop for it.
    case lnproj

    /// The probabilities the benchmark trains with (the PyTorch twin uses the same).
    static let pRecurrentDropout: Float = 0.25, pZoneout: Float = 0.1, pWeightDrop: Float = 0.5

    /// Whether `cell` has this variant (the reset gate is a GRU's; layer norm is an LSTM's or a GRU's;
    /// layer norm with zoneout is timed for an LSTM).
    func applies(to cell: RecurrentCell) -> Bool {
        switch self {
        case .resetbefore: return cell == .gru
        case .layernorm: return cell == .lstm || cell == .gru
        case .lnzoneout, .lnproj: return cell == .lstm
        default: return true
        }
    }

    /// The network options of this variant for `cell`.
    func variants(for cell: RecurrentCell) -> RecurrentVariants {
        switch self {
        case .plain: return RecurrentVariants()
        case .rdrop: return RecurrentVariants(recurrentDropout: Self.pRecurrentDropout)
        case .zoneout: return RecurrentVariants(zoneout: Self.pZoneout, cellZoneout: cell == .lstm ? Self.pZoneout : 0)
        case .wdrop: return RecurrentVariants(weightDrop: Self.pWeightDrop)
        case .resetbefore: return RecurrentVariants(resetAfter: false)
        case .layernorm: return RecurrentVariants(layerNorm: true)
        case .lnzoneout: return RecurrentVariants(zoneout: Self.pZoneout, cellZoneout: Self.pZoneout, layerNorm: true)
        case .lnproj: return RecurrentVariants(layerNorm: true)
        }
    }

    /// P for a stack of hidden size `h` (0: no projection).
    func projSize(hiddenSize h: Int) -> Int { self == .lnproj ? max(1, h / 2) : 0 }

    /// Whether the "variants" grid times it.
    var inGrid: Bool { self != .lnproj }

    /// What the variant is, for the table's legend.
    var summary: String {
        switch self {
        case .plain: return "plain cell"
        case .rdrop: return "recurrent dropout p = \(Self.pRecurrentDropout) (one mask per sequence)"
        case .zoneout: return "zoneout p = \(Self.pZoneout) on h (and c for LSTM), factors per step"
        case .wdrop: return "weight drop p = \(Self.pWeightDrop) on W_hh (one mask per batch)"
        case .resetbefore: return "reset gate before the recurrent product"
        case .layernorm: return "layer norm on W_ih x, W_hh h (and c_t for LSTM)"
        case .lnzoneout: return "layer norm with zoneout p = \(Self.pZoneout) on h and c"
        case .lnproj: return "layer norm with a projection to P = H/2"
        }
    }
}
