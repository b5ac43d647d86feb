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
  n = tanh(W_in x + b_in + W_hn (r ⊙ h_{t-1}) + b_hn), written out: GRUCell is reset-after.

`check_against_fixture_stack` runs these steps with given masks against ``masked_stack`` of
scripts/variant_fixtures.py, the stack the PyTorch-parity tests check our backends against.
"""

import os
import sys

import torch

# T = time steps, B = batch, I = input size, H = hidden size, L = layers, G = gates.

VARIANTS = ("rdrop", "zoneout", "wdrop", "resetbefore")
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
    elif variant == "zoneout":
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


def _gru_step_reset_before(x_t, h, w_ih, w_hh, b_ih, b_hh):
    """Reset-before GRU step: r multiplies h_{t-1} before W_hn."""
    xr, xz, xn = (x_t @ w_ih.t() + b_ih).chunk(3, dim=1)
    w_hr, w_hz, w_hn = w_hh.chunk(3, dim=0)
    b_hr, b_hz, b_hn = b_hh.chunk(3)
    r = torch.sigmoid(xr + h @ w_hr.t() + b_hr)
    z = torch.sigmoid(xz + h @ w_hz.t() + b_hz)
    n = torch.tanh(xn + (r * h) @ w_hn.t() + b_hn)
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
                h_new = _gru_step_reset_before(layer_input[t], h, w_ih, w_hh, b_ih, b_hh)
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


def check_against_fixture_stack(cell, variant, seed=0, T=5, B=3, I=4, H=6, L=2):
    """Forward and every gradient of `eager_stack` against scripts/variant_fixtures.masked_stack with
    the same masks; returns the worst max|a − e| / (1e-5 + 1e-4·max|e|) (≤ 1: agrees)."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "scripts"))
    from variant_fixtures import masked_stack  # noqa: E402
    torch.manual_seed(seed)
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
    worst = 0.0
    for a, e in zip(*results):
        worst = max(worst, float((a - e).abs().max()) / (1e-5 + 1e-4 * float(e.abs().max())))
    return worst
