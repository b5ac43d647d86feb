"""The recurrent variants PyTorch has no module for, written as PyTorch users must write them
today: a Python loop over nn.LSTMCell / nn.GRUCell steps (torch.lstm_cell / torch.gru_cell, the
functions those modules call), with the masks as tensors. `pytorch_twin.py` times these for the
configs `lstm+VARIANT:...` and `gru+VARIANT:...` of `recurrent-bench`.

Variants (the same probabilities as recurrent-bench's BenchVariant):

* ``rdrop``: recurrent (variational) dropout, p = 0.25: one (B, H) mask per sequence and call on
  the h_{t-1} the recurrent product reads (Gal & Ghahramani; Keras ``recurrent_dropout``). An
  LSTM passes h ⊙ mask to LSTMCell; GRU's ``z ⊙ h_{t-1}`` must stay unmasked, which GRUCell cannot
  express, so its step is written out.
* ``zoneout``: zoneout p = 0.1 on h (and c for LSTM): factors d ∈ {0, 1} per step,
  h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t) (Krueger et al.).
* ``wdrop``: weight drop p = 0.5 on W_hh: one (G·H, H) mask per batch (AWD-LSTM's WeightDrop).
* ``resetbefore`` (GRU): the reset gate before the recurrent product (Keras's ``reset_after=False``),
  n = tanh(W_in x + b_in + W_hn (r ⊙ h_{t-1}) + b_hn), the fixtures' step (GRUCell is reset-after).
* ``layernorm``: the layer-normalised LSTM of PyTorch's benchmarks/fastrnns/custom_lstms.py
  (layer norm on W_ih x_t and on W_hh h_{t-1}, whose biases are the only biases, and on c_t, whose
  normalised value is the state), and the GRU with the same two norms before nn.GRU's gates; one
  step at a time, every product and norm per step as that cell writes them, with F.layer_norm.
  Its parameters (``LayerNormStack``) carry our names.
* ``lnzoneout`` (LSTM): ``layernorm`` with zoneout p = 0.1 on h and c, blended after each step as
  ``zoneout`` (c̃_t the normalised cell state, h̃_t = o ⊙ tanh(c̃_t)).

`check_against_fixture_stack` runs these steps with given masks against ``masked_stack`` of
scripts/variant_fixtures.py, the stack the PyTorch-parity tests check our backends against; the
layer-normalised steps against a stack of that script's ``LayerNormLSTMCell`` / ``LayerNormGRUCell``
modules, the cells the layer-norm parity fixtures are written with.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from variant_fixtures import (_LN_NAMES, LayerNormGRUCell, LayerNormLSTMCell, masked_stack,  # noqa: E402
                              reset_before_gru_cell)

# T = time steps, B = batch, I = input size, H = hidden size, L = layers, G = gates.

VARIANTS = ("rdrop", "zoneout", "wdrop", "resetbefore", "layernorm", "lnzoneout")
P_RECURRENT_DROPOUT, P_ZONEOUT, P_WEIGHT_DROP = 0.25, 0.1, 0.5
GATES = {"lstm": 4, "gru": 3}


def draw_masks(cell, variant, T, B, H, L):
    """The masks one training call draws: dropout masks are 0 or 1/(1−p), zoneout factors 0 or 1."""
    masks = {}
    if variant == "rdrop":
        masks["hidden"] = [torch.bernoulli(torch.full((B, H), 1 - P_RECURRENT_DROPOUT)) / (1 - P_RECURRENT_DROPOUT)
                           for _ in range(L)]
    elif variant == "wdrop":
        masks["weight"] = [torch.bernoulli(torch.full((GATES[cell] * H, H), 1 - P_WEIGHT_DROP)) / (1 - P_WEIGHT_DROP)
                           for _ in range(L)]
    elif variant in ("zoneout", "lnzoneout"):
        masks["zone_h"] = [(torch.rand(T, B, H) < P_ZONEOUT).float() for _ in range(L)]
        if cell == "lstm":
            masks["zone_c"] = [(torch.rand(T, B, H) < P_ZONEOUT).float() for _ in range(L)]
    return masks


def _gru_step_masked_product(x_t, h_masked, h, w_ih, w_hh, b_ih, b_hh):
    """GRU step whose recurrent product reads h_masked while z ⊙ h_{t-1} reads h."""
    xr, xz, xn = (x_t @ w_ih.t() + b_ih).chunk(3, dim=1)
    hr, hz, hn = (h_masked @ w_hh.t() + b_hh).chunk(3, dim=1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def eager_stack(mod, cell, x, masks, reset_before=False):
    """The unidirectional stack of `mod` (nn.LSTM / nn.GRU, time-major, no dropout) over x (T, B, I),
    zero initial state, one Python step at a time with the variant's masks; returns (T, B, H)."""
    T, B, _ = x.shape
    H = mod.hidden_size
    layer_input = x
    for k in range(mod.num_layers):
        w_ih, w_hh = getattr(mod, f"weight_ih_l{k}"), getattr(mod, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(mod, f"bias_ih_l{k}"), getattr(mod, f"bias_hh_l{k}")
        if "weight" in masks:
            w_hh = w_hh * masks["weight"][k]
        hidden_mask = masks["hidden"][k] if "hidden" in masks else None
        zone_h = masks["zone_h"][k] if "zone_h" in masks else None
        zone_c = masks["zone_c"][k] if "zone_c" in masks else None
        h = x.new_zeros(B, H)
        c = x.new_zeros(B, H) if cell == "lstm" else None
        outs = []
        for t in range(T):
            if cell == "lstm":
                h_in = h * hidden_mask if hidden_mask is not None else h
                h_new, c_new = torch.lstm_cell(layer_input[t], (h_in, c), w_ih, w_hh, b_ih, b_hh)
                if zone_c is not None:
                    c_new = c_new + zone_c[t] * (c - c_new)
                c = c_new
            elif reset_before:
                h_new = reset_before_gru_cell(layer_input[t] @ w_ih.t() + b_ih, h, h, w_hh, b_hh)
            elif hidden_mask is not None:
                h_new = _gru_step_masked_product(layer_input[t], h * hidden_mask, h, w_ih, w_hh, b_ih, b_hh)
            else:
                h_new = torch.gru_cell(layer_input[t], h, w_ih, w_hh, b_ih, b_hh)
            if zone_h is not None:
                h_new = h_new + zone_h[t] * (h - h_new)
            h = h_new
            outs.append(h)
        layer_input = torch.stack(outs)
    return layer_input


class LayerNormStack(torch.nn.Module):
    """The parameters of L layer-normalised LSTM or GRU layers under our names (``weight_ih_l{k}``,
    ``weight_hh_l{k}``, ``bias_ih_l{k}`` / ``bias_hh_l{k}`` the two norms' biases, ``weight_ln_ih_l{k}``,
    ``weight_ln_hh_l{k}``, and for an LSTM ``weight_ln_c_l{k}`` / ``bias_ln_c_l{k}``), initialised as
    our layers are: weights and biases U(−1/√H, 1/√H), gains 1, the c norm's bias 0."""

    def __init__(self, cell, input_size, hidden_size, num_layers):
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        G, H, bound = GATES[cell], hidden_size, hidden_size ** -0.5

        def uniform(*shape):
            return torch.nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        for k in range(num_layers):
            setattr(self, f"weight_ih_l{k}", uniform(G * H, input_size if k == 0 else H))
            setattr(self, f"weight_hh_l{k}", uniform(G * H, H))
            setattr(self, f"bias_ih_l{k}", uniform(G * H))
            setattr(self, f"bias_hh_l{k}", uniform(G * H))
            setattr(self, f"weight_ln_ih_l{k}", torch.nn.Parameter(torch.ones(G * H)))
            setattr(self, f"weight_ln_hh_l{k}", torch.nn.Parameter(torch.ones(G * H)))
            if cell == "lstm":
                setattr(self, f"weight_ln_c_l{k}", torch.nn.Parameter(torch.ones(H)))
                setattr(self, f"bias_ln_c_l{k}", torch.nn.Parameter(torch.zeros(H)))

    def layer(self, k):
        """Layer k's parameters by our names without the layer suffix."""
        return {name[: -len(f"_l{k}")]: p for name, p in self.named_parameters() if name.endswith(f"_l{k}")}


def layer_norm_stack(mod, x, masks=None):
    """The stack of `mod` (a LayerNormStack) over x (T, B, I), zero initial state, one Python step at a
    time as custom_lstms.py's LayerNormLSTMCell writes it, with zoneout where `masks` has its factors
    (draw_masks); returns (T, B, H)."""
    masks = masks or {}
    T, B, _ = x.shape
    H, lstm = mod.hidden_size, mod.cell == "lstm"
    width = GATES[mod.cell] * H
    layer_input = x
    for k in range(mod.num_layers):
        p = mod.layer(k)
        h = x.new_zeros(B, H)
        c = x.new_zeros(B, H)
        zone_h = masks["zone_h"][k] if "zone_h" in masks else None
        zone_c = masks["zone_c"][k] if "zone_c" in masks else None
        outs = []
        for t in range(T):
            h_prev, c_prev = h, c
            a_i = F.layer_norm(layer_input[t] @ p["weight_ih"].t(), (width,), p["weight_ln_ih"], p["bias_ih"])
            a_h = F.layer_norm(h @ p["weight_hh"].t(), (width,), p["weight_ln_hh"], p["bias_hh"])
            if lstm:
                i, f, g, o = (a_i + a_h).chunk(4, 1)
                c = F.layer_norm(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g), (H,), p["weight_ln_c"],
                                 p["bias_ln_c"])
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                xr, xz, xn = a_i.chunk(3, 1)
                hr, hz, hn = a_h.chunk(3, 1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                h = (1 - z) * torch.tanh(xn + r * hn) + z * h
            if zone_h is not None:
                h = h + zone_h[t] * (h_prev - h)
            if zone_c is not None and lstm:
                c = c + zone_c[t] * (c_prev - c)
            outs.append(h)
        layer_input = torch.stack(outs)
    return layer_input


def _check_layer_norm(cell, seed, T, B, I, H, L, masks=None):
    """`layer_norm_stack` against a stack of the fixtures' layer-norm cell modules holding the same
    parameters (gains and biases drawn away from 1 and 0), with the zoneout factors of `masks` blended
    after each of those cells' steps, forward and every gradient."""
    masks = masks or {}
    mod = LayerNormStack(cell, I, H, L)
    with torch.no_grad():
        for name, p in mod.named_parameters():
            if "_ln_" in name or name.startswith("bias"):
                p.copy_((1 + 0.3 * torch.randn_like(p)) if name.startswith("weight") else 0.3 * torch.randn_like(p))
    make = LayerNormLSTMCell if cell == "lstm" else LayerNormGRUCell
    cells = [make(I if k == 0 else H, H) for k in range(L)]
    with torch.no_grad():
        for k, fixture_cell in enumerate(cells):
            ours = mod.layer(k)
            for name, p in fixture_cell.named_parameters():
                p.copy_(ours[_LN_NAMES[name]])

    def fixture_stack(xi):
        layer_input = xi
        for k in range(L):
            h = c = xi.new_zeros(B, H)
            outs = []
            for t in range(T):
                h_new, c_new = cells[k](layer_input[t], h, (h, c))
                if "zone_h" in masks:
                    h_new = h_new + masks["zone_h"][k][t] * (h - h_new)
                    c_new = c_new + masks["zone_c"][k][t] * (c - c_new)
                h, c = h_new, c_new
                outs.append(h)
            layer_input = torch.stack(outs)
        return layer_input

    results = []
    for run, params in ((lambda xi: layer_norm_stack(mod, xi, masks), list(mod.parameters())),
                        (fixture_stack, [p for fixture_cell in cells for p in fixture_cell.parameters()])):
        xi = torch.randn(T, B, I, generator=torch.Generator().manual_seed(seed)).requires_grad_(True)
        out = run(xi)
        g = torch.Generator().manual_seed(seed + 1)
        (out * torch.randn(out.shape, generator=g)).sum().backward()
        grads = {id(p): p.grad for p in params}
        # Our parameters in one fixed order: layer by layer, by our names.
        if run is fixture_stack:
            named = {f"{_LN_NAMES[n]}_l{k}": grads[id(p)] for k, fc in enumerate(cells) for n, p in fc.named_parameters()}
        else:
            named = {n: grads[id(p)] for n, p in mod.named_parameters()}
        results.append([out.detach(), xi.grad] + [named[n] for n in sorted(named)])
    return results


def check_against_fixture_stack(cell, variant, seed=0, T=5, B=3, I=4, H=6, L=2):
    """Forward and every gradient of `eager_stack` (`layer_norm_stack`) against
    scripts/variant_fixtures.masked_stack (a stack of its layer-norm cells) with the same masks;
    returns the worst max|a − e| / (1e-5 + 1e-4·max|e|) (≤ 1: agrees)."""
    torch.manual_seed(seed)
    if variant in ("layernorm", "lnzoneout"):
        masks = draw_masks(cell, variant, T, B, H, L) if variant == "lnzoneout" else None
        return _worst(_check_layer_norm(cell, seed, T, B, I, H, L, masks))
    mod = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(I, H, L)
    x = torch.randn(T, B, I)
    masks = draw_masks(cell, variant, T, B, H, L)
    G = GATES[cell]
    hidden = torch.stack(masks["hidden"]) if "hidden" in masks else torch.ones(L, B, H)
    weight = masks.get("weight", [torch.ones(G * H, H)] * L)
    zone_h = masks.get("zone_h")
    zone_c = masks.get("zone_c", [torch.zeros(T, B, H)] * L) if zone_h is not None else None
    results = []
    reset_before = variant == "resetbefore"
    for run in (lambda xi: eager_stack(mod, cell, xi, masks, reset_before),
                lambda xi: masked_stack(mod, cell, xi, None, None, None, hidden, weight, zone_h, zone_c, reset_before)[0]):
        xi = x.clone().requires_grad_(True)
        mod.zero_grad()
        out = run(xi)
        g = torch.Generator().manual_seed(seed + 1)
        (out * torch.randn(out.shape, generator=g)).sum().backward()
        results.append([out.detach(), xi.grad] + [p.grad.clone() for p in mod.parameters()])
    return _worst(results)


def _worst(results):
    """The worst max|a − e| / (1e-5 + 1e-4·max|e|) over pairs of tensors."""
    worst = 0.0
    for a, e in zip(*results):
        worst = max(worst, float((a - e).abs().max()) / (1e-5 + 1e-4 * float(e.abs().max())))
    return worst
