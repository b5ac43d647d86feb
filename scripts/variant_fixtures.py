"""Fixtures of the recurrent variants PyTorch has no module for (group ``variants`` of
generate_fixtures.py): recurrent (variational) dropout, weight drop on ``weight_hh``, zoneout and
the GRU with the reset gate before the recurrent product, written as plain PyTorch one step at a
time, with the masks passed in as tensors.

``MaskedStack`` runs a stack of RNN/LSTM/GRU layers with PyTorch's equations, gate orders and
parameter names (it borrows the parameters of an ``nn.RNN``/``nn.LSTM``/``nn.GRU``), where

* weight drop: every step of layer k, direction d multiplies by ``W_hh ⊙ M_w[k, d]`` (one mask
  per batch, AWD-LSTM's WeightDrop with the mask given);
* recurrent dropout: the recurrent product reads ``h_{t-1} ⊙ M_h[k·D + d]`` (one (B, R) mask
  per sequence for all its steps, h_0 included; Keras's ``recurrent_dropout``); the state itself
  and GRU's ``z ⊙ h_{t-1}`` term are not masked;
* zoneout (Krueger et al. 2017): with factors d (T, B, R) per layer and direction (1: keep the
  previous value), ``h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t)``, and for an LSTM likewise
  ``c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t)`` with ``h̃_t = o ⊙ tanh(c̃_t)`` (projected: W_hr of that).

A reset-before GRU (Cho et al. 2014; Keras's ``reset_after=False``; ``reset_before_gru_cell``) keeps
nn.GRU's parameters and gate order r, z, n: ``n = tanh(W_in x + b_in + W_hn (r ⊙ h̄) + b_hn)``, with
h̄ = h_{t-1} ⊙ M_h what the products read; r and z as nn.GRU's.

Layer-normalised cells (Ba et al. 2016): ``LayerNormLSTMCell`` in the style of PyTorch's
benchmarks/fastrnns/custom_lstms.py (``nn.LayerNorm`` on W_ih x, on W_hh h and on c_t, whose
normalised value is the state) and ``LayerNormGRUCell`` (the same two norms, then nn.GRU's gates).
Zoneout composes with them as with the plain cells: the cell gives h̃_t and (LSTM) the normalised
c̃_t, then ``h_t = h̃_t + d ⊙ (h_{t-1} − h̃_t)`` and ``c_t = c̃_t + d_c ⊙ (c_{t-1} − c̃_t)``.
A layer-normalised LSTM cell with ``proj_size`` P projects as nn.LSTM's: ``h_t = (o ⊙ tanh(c_t)) W_hrᵀ``
with ``weight_hr`` (P, H), ``weight_hh`` (4H, P), h P wide (zoneout on the projected h).
Our names: ``layernorm_i.weight`` is ``weight_ln_ih_l{k}``, ``layernorm_i.bias`` ``bias_ih_l{k}``,
``layernorm_h.weight``/``.bias`` ``weight_ln_hh_l{k}``/``bias_hh_l{k}``, ``layernorm_c.weight``/``.bias``
``weight_ln_c_l{k}``/``bias_ln_c_l{k}``; ``weight_ih``/``weight_hh``/``weight_hr`` as nn.LSTM's/nn.GRU's.

Variable lengths: sequence b runs its first ``lengths[b]`` steps; the reverse direction starts at
its own last step; padded outputs are zero and final states are those at each sequence's length,
as PyTorch's packed sequences.  With all-ones masks the stack reproduces the ``nn`` module (checked).

Tensors written besides those of 8. (sequence fixtures): ``mask.hidden`` (L·D, B, R),
``mask.weight_hh_l{k}[_reverse]`` (G·H, R) and, with zoneout, ``zoneout.hidden_l{k}[_reverse]``
(T, B, R) and ``zoneout.cell_l{k}[_reverse]`` (T, B, H), indexed by the time step they act on.
"""

import torch
from torch import nn

# T = time steps, B = batch, I = input size, H = hidden size, L = layers, D = directions,
# G = gates, P = projection size, R = width of h (P when projecting, else H).


def reset_before_gru_cell(x_proj, h_masked, h_prev, w_hh, b_hh):
    """A GRU cell with the reset gate before the recurrent product, from x W_ihᵀ + b_ih (B, 3H), what
    the products read (h̄, B×H) and h_{t-1}; W_hh (3H, H) and b_hh (3H) as nn.GRU's, rows r, z, n."""
    xr, xz, xn = x_proj.chunk(3, dim=1)
    w_hr, w_hz, w_hn = w_hh.chunk(3, dim=0)
    b_hr, b_hz, b_hn = b_hh.chunk(3)
    r = torch.sigmoid(xr + h_masked @ w_hr.t() + b_hr)
    z = torch.sigmoid(xz + h_masked @ w_hz.t() + b_hz)
    n = torch.tanh(xn + (r * h_masked) @ w_hn.t() + b_hn)
    return (1 - z) * n + z * h_prev


def _cell_step(cell, x_proj, h_masked, h_prev, c_prev, w_hh, b_hh, w_hr, reset_before=False):
    """One step for all B rows: (h, c) from x W_ihᵀ + b_ih (B, GH), the masked and the plain h_{t-1}."""
    if reset_before:
        return reset_before_gru_cell(x_proj, h_masked, h_prev, w_hh, b_hh), None
    a_h = h_masked @ w_hh.t() + b_hh                       # (B, GH)
    if cell in ("rnn_tanh", "rnn_relu"):
        a = x_proj + a_h
        return (torch.tanh(a) if cell == "rnn_tanh" else torch.relu(a)), None
    if cell == "lstm":
        i, f, g, o = (x_proj + a_h).chunk(4, dim=1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        m = torch.sigmoid(o) * torch.tanh(c)
        return (m @ w_hr.t() if w_hr is not None else m), c
    xr, xz, xn = x_proj.chunk(3, dim=1)
    hr, hz, hn = a_h.chunk(3, dim=1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h_prev, None


def masked_stack(mod, cell, x, lengths, h0, c0, hidden_masks, weight_masks, zone_h=None, zone_c=None, reset_before=False):
    """The stack of ``mod`` (an nn.RNN/LSTM/GRU, time-major, no dropout) over x (T, B, I) with
    the masks (zone_h, zone_c: lists of L·D zoneout factors, or None); returns output (T, B, D·R),
    h_n (L·D, B, R), c_n (L·D, B, H) or None."""
    T, B, _ = x.shape
    L, D = mod.num_layers, 2 if mod.bidirectional else 1
    H = mod.hidden_size
    P = getattr(mod, "proj_size", 0)
    R = P or H
    lengths = lengths if lengths is not None else [T] * B
    active = torch.tensor([[1.0 if t < n else 0.0 for n in lengths] for t in range(T)]).unsqueeze(2)  # (T, B, 1)
    layer_input = x
    h_n, c_n = [], []
    for k in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
            w_ih, w_hh = getattr(mod, "weight_ih" + sfx), getattr(mod, "weight_hh" + sfx)
            b_ih, b_hh = getattr(mod, "bias_ih" + sfx), getattr(mod, "bias_hh" + sfx)
            w_hr = getattr(mod, "weight_hr" + sfx) if P else None
            w_hh = w_hh * weight_masks[k * D + d]
            index = k * D + d
            h = h0[index] if h0 is not None else torch.zeros(B, R)
            c = (c0[index] if c0 is not None else torch.zeros(B, H)) if cell == "lstm" else None
            steps = [None] * T
            order = range(T) if d == 0 else range(T - 1, -1, -1)
            for t in order:
                # The reverse direction of sequence b reads steps lengths[b]-1 … 0: padded steps are skipped
                # because its state only starts changing at its own last step.
                a = active[t]
                x_proj = layer_input[t] @ w_ih.t() + b_ih
                h_new, c_new = _cell_step(cell, x_proj, h * hidden_masks[index], h, c, w_hh, b_hh, w_hr, reset_before)
                if zone_h is not None:
                    h_new = h_new + zone_h[index][t] * (h - h_new)
                    if c is not None:
                        c_new = c_new + zone_c[index][t] * (c - c_new)
                h = a * h_new + (1 - a) * h
                if c is not None:
                    c = a * c_new + (1 - a) * c
                steps[t] = a * h_new
            outs.append(torch.stack(steps))
            h_n.append(h)
            if c is not None:
                c_n.append(c)
        layer_input = torch.cat(outs, dim=2)
    return layer_input, torch.stack(h_n), (torch.stack(c_n) if c_n else None)


def variant_fixture(out_dir, write_fixture, make_rnn, filename, file_seed, cell, num_layers, *,
                    bidirectional=False, lengths=None, proj_size=0, p_hidden=0.3, p_weight=0.4,
                    zoneout=None, evaluation=False, reset_before=False, T=5, B=3, I=4, H=5):
    """One file: masks drawn here (0 or 1/(1−p)), zoneout factors (0 or 1; with `evaluation` p
    everywhere and no recurrent dropout or weight drop), forward, backward, the all-ones check, write."""
    torch.manual_seed(file_seed)
    is_lstm = cell == "lstm"
    L, D = num_layers, 2 if bidirectional else 1
    R = proj_size or H
    extra = dict(bidirectional=bidirectional)
    if proj_size:
        extra["proj_size"] = proj_size
    mod = make_rnn(cell, I, H, L, **extra)
    G = {"lstm": 4, "gru": 3}.get(cell, 1)
    x = torch.randn(T, B, I).requires_grad_(True)
    h0 = (torch.randn(L * D, B, R) * 0.5).requires_grad_(True)
    c0 = (torch.randn(L * D, B, H) * 0.5).requires_grad_(True) if is_lstm else None
    hidden_masks = (torch.rand(L * D, B, R) >= p_hidden).float() / (1 - p_hidden)
    weight_names = [f"weight_hh_l{k}" + ("_reverse" if d == 1 else "") for k in range(L) for d in range(D)]
    weight_masks = [(torch.rand(G * H, R) >= p_weight).float() / (1 - p_weight) for _ in weight_names]
    if evaluation:
        hidden_masks = torch.ones(L * D, B, R)
        weight_masks = [torch.ones(G * H, R) for _ in weight_names]
    zone_h = zone_c = None
    if zoneout is not None:
        p_h, p_c = zoneout
        if evaluation:
            zone_h = [torch.full((T, B, R), p_h) for _ in weight_names]
            zone_c = [torch.full((T, B, H), p_c) for _ in weight_names]
        else:
            zone_h = [(torch.rand(T, B, R) < p_h).float() for _ in weight_names]
            zone_c = [(torch.rand(T, B, H) < p_c).float() for _ in weight_names]

    # The module and the step-by-step stack agree with all-ones masks.
    with torch.no_grad():
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
        inp = x if lengths is None else pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        res = mod(inp, (h0, c0)) if is_lstm else mod(inp, h0)
        ref_out = res[0] if lengths is None else pad_packed_sequence(res[0], total_length=T)[0]
        ones = masked_stack(mod, cell, x, lengths, h0, c0, torch.ones(L * D, B, R), [torch.ones(G * H, R)] * len(weight_names))
        assert torch.allclose(ones[0], ref_out, atol=1e-5), "step-by-step stack differs from the nn module"
        if reset_before:
            # With W_hn's rows and b_hn zero the reset gate's place makes no difference: nn.GRU again.
            saved = {name: p.detach().clone() for name, p in mod.named_parameters()}
            for name, p in mod.named_parameters():
                if name.startswith("weight_hh") or name.startswith("bias_hh"):
                    p[2 * H:] = 0
            res = mod(inp, h0)
            plain = res[0] if lengths is None else pad_packed_sequence(res[0], total_length=T)[0]
            ones = masked_stack(mod, cell, x, lengths, h0, c0, torch.ones(L * D, B, R),
                                [torch.ones(G * H, R)] * len(weight_names), reset_before=True)
            assert torch.allclose(ones[0], plain, atol=1e-5), "reset-before stack differs where it must not"
            for name, p in mod.named_parameters():
                p.copy_(saved[name])

    out, h_n, c_n = masked_stack(mod, cell, x, lengths, h0, c0, hidden_masks, weight_masks, zone_h, zone_c, reset_before)
    g_out, g_hn = torch.randn(*out.shape), torch.randn(*h_n.shape)
    g_cn = torch.randn(*c_n.shape) if is_lstm else None
    loss = (out * g_out).sum() + (h_n * g_hn).sum() + ((c_n * g_cn).sum() if is_lstm else 0)
    mod.zero_grad()
    loss.backward()

    tensors = {name: p for name, p in mod.named_parameters()}
    tensors.update({"input": x, "output": out, "h_n": h_n, "grad_output": g_out, "grad_h_n": g_hn,
                    "grad.input": x.grad, "h0": h0, "grad.h0": h0.grad, "mask.hidden": hidden_masks})
    if is_lstm:
        tensors.update({"c0": c0, "grad.c0": c0.grad, "c_n": c_n, "grad_c_n": g_cn})
    for name, m in zip(weight_names, weight_masks):
        tensors["mask." + name] = m
    if zoneout is not None:
        for k, name in enumerate(weight_names):
            tensors["zoneout.hidden" + name[len("weight_hh"):]] = zone_h[k]
            if is_lstm:
                tensors["zoneout.cell" + name[len("weight_hh"):]] = zone_c[k]
    for name, p in mod.named_parameters():
        tensors["grad." + name] = p.grad
    meta = {"cell": cell, "input_size": I, "hidden_size": H, "num_layers": L, "seq_len": T, "batch": B,
            "bidirectional": bidirectional, "has_initial_state": True, "batch_first": False, "seed": file_seed,
            "recurrent_dropout": 0 if evaluation else p_hidden, "weight_drop": 0 if evaluation else p_weight,
            "evaluation": evaluation}
    if reset_before:
        meta["reset_after"] = False
    if zoneout is not None:
        meta["zoneout"], meta["cell_zoneout"] = zoneout
    if lengths is not None:
        tensors["lengths"] = torch.tensor(lengths, dtype=torch.float32)
        meta["lengths"] = list(lengths)
    if proj_size:
        meta["proj_size"] = proj_size
    write_fixture(out_dir, filename, meta, tensors)


def gen_variants(out_dir, write_fixture, make_rnn):
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_masks_lstm_bi_proj_packed.json", 7001, "lstm", 2,
                    bidirectional=True, proj_size=3, lengths=[4, 6, 1, 3], T=6, B=4)
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_masks_lstm_l1.json", 7002, "lstm", 1)
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_masks_gru_packed.json", 7003, "gru", 2,
                    lengths=[2, 5, 3], T=5, B=3)
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_masks_gru_bi.json", 7004, "gru", 1, bidirectional=True)
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_masks_rnn_tanh_bi_packed.json", 7005, "rnn_tanh", 2,
                    bidirectional=True, lengths=[3, 5, 5, 1], T=5, B=4)
    # Zoneout, with the other two (LSTM) and alone; in evaluation, the expectation.
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_zoneout_lstm_bi_proj_packed.json", 7011, "lstm", 2,
                    bidirectional=True, proj_size=3, lengths=[4, 6, 1, 3], T=6, B=4, zoneout=(0.3, 0.5))
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_zoneout_gru_packed.json", 7012, "gru", 2,
                    lengths=[2, 5, 3], p_hidden=0, p_weight=0, zoneout=(0.4, 0.0))
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_zoneout_rnn_relu_bi.json", 7013, "rnn_relu", 1,
                    bidirectional=True, p_hidden=0, p_weight=0, zoneout=(0.4, 0.0))
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_zoneout_lstm_eval.json", 7014, "lstm", 2,
                    lengths=[5, 2, 4], zoneout=(0.2, 0.4), evaluation=True)
    # The GRU with the reset gate before the recurrent product: plain (bidirectional, variable
    # lengths), and with recurrent dropout, weight drop and zoneout.
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_reset_before_gru_bi_packed.json", 7021, "gru", 2,
                    bidirectional=True, lengths=[4, 6, 1, 3], T=6, B=4, p_hidden=0, p_weight=0, reset_before=True)
    variant_fixture(out_dir, write_fixture, make_rnn, "variant_reset_before_gru_masks.json", 7022, "gru", 2,
                    lengths=[2, 5, 3], zoneout=(0.3, 0.0), reset_before=True, I=3, H=6)
    # Layer-normalised LSTM and GRU: bidirectional with variable lengths, and stacked with recurrent dropout.
    layer_norm_fixture(out_dir, write_fixture, "variant_layer_norm_lstm_bi_packed.json", 7031, "lstm", 2,
                       bidirectional=True, lengths=[4, 6, 1, 3], T=6, B=4)
    layer_norm_fixture(out_dir, write_fixture, "variant_layer_norm_lstm_dropout.json", 7032, "lstm", 2, p_hidden=0.3)
    layer_norm_fixture(out_dir, write_fixture, "variant_layer_norm_gru_bi_packed.json", 7033, "gru", 2,
                       bidirectional=True, lengths=[2, 5, 3], T=5, B=3, p_hidden=0.3)
    # With zoneout: bidirectional, variable lengths and recurrent dropout; and in evaluation (the expectation).
    layer_norm_fixture(out_dir, write_fixture, "variant_layer_norm_zoneout_lstm_bi_packed.json", 7034, "lstm", 2,
                       bidirectional=True, lengths=[4, 6, 1, 3], T=6, B=4, p_hidden=0.3, zoneout=(0.3, 0.5))
    layer_norm_fixture(out_dir, write_fixture, "variant_layer_norm_zoneout_gru_bi_packed.json", 7035, "gru", 2,
                       bidirectional=True, lengths=[2, 5, 3], T=5, B=3, p_hidden=0.3, zoneout=(0.4, 0.0), H=7)
    layer_norm_fixture(out_dir, write_fixture, "variant_layer_norm_zoneout_lstm_eval.json", 7036, "lstm", 2,
                       lengths=[5, 2, 4], zoneout=(0.2, 0.4), evaluation=True)
    # The layer-normalised LSTM with a projection (P ≠ H, odd sizes): bidirectional with variable lengths
    # and recurrent dropout; with zoneout on the projected h and on c; and in evaluation. In float64: from
    # a few units of h the recurrent norm amplifies rounding, and float32 PyTorch's own gradients
    # (weight_hr's) came out up to 1.3 tolerances from its float64 ones. Upstream gradients a tenth as
    # large: dW_hr sums dh_t m_tᵀ over every step and came out ten times the other gradients, where the
    # tolerance's absolute part means less (the layer tests scale them likewise for layer norm).
    for name, file_seed, options in [
            ("lstm_bi_proj_packed", 7037,
             dict(bidirectional=True, lengths=[4, 6, 1, 3], T=6, B=4, p_hidden=0.3, H=7, proj_size=5)),
            ("zoneout_lstm_proj_packed", 7038, dict(lengths=[2, 5, 3], p_hidden=0.3, zoneout=(0.3, 0.5), I=3, proj_size=2)),
            ("zoneout_lstm_proj_eval", 7039,
             dict(bidirectional=True, lengths=[5, 2, 4], zoneout=(0.2, 0.4), evaluation=True, proj_size=4))]:
        layer_norm_fixture(out_dir, write_fixture, f"variant_layer_norm_{name}.json", file_seed, "lstm", 2, float64=True,
                           grad_scale=0.1, **options)


class LayerNormLSTMCell(nn.Module):
    """custom_lstms.py's LayerNormLSTMCell: LN on W_ih x and on W_hh h (4H each, their biases the
    only biases) and on c_t; the normalised c_t is the state. With ``proj_size`` P > 0, nn.LSTM's
    projection: ``weight_hh`` is (4H, P) and h_t = (o ⊙ tanh(c_t)) W_hrᵀ, ``weight_hr`` (P, H)."""

    def __init__(self, input_size, hidden_size, proj_size=0):
        super().__init__()
        r = proj_size if proj_size > 0 else hidden_size
        self.weight_ih = nn.Parameter(torch.randn(4 * hidden_size, input_size) / hidden_size ** 0.5)
        self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, r) / hidden_size ** 0.5)
        # Drawn only when projecting, so that the unprojected cells draw what they always drew.
        self.weight_hr = nn.Parameter(torch.randn(proj_size, hidden_size) / hidden_size ** 0.5) if proj_size > 0 else None
        self.layernorm_i = nn.LayerNorm(4 * hidden_size)
        self.layernorm_h = nn.LayerNorm(4 * hidden_size)
        self.layernorm_c = nn.LayerNorm(hidden_size)

    def forward(self, x, h_masked, state):
        hx, cx = state
        gates = self.layernorm_i(x @ self.weight_ih.t()) + self.layernorm_h(h_masked @ self.weight_hh.t())
        i, f, g, o = gates.chunk(4, 1)
        cy = self.layernorm_c(torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(g))
        hy = torch.sigmoid(o) * torch.tanh(cy)
        return (hy @ self.weight_hr.t() if self.weight_hr is not None else hy), cy


class LayerNormGRUCell(nn.Module):
    """The same two norms (3H each), then nn.GRU's gates: n = tanh(a_in + r ⊙ a_hn)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.randn(3 * hidden_size, input_size) / hidden_size ** 0.5)
        self.weight_hh = nn.Parameter(torch.randn(3 * hidden_size, hidden_size) / hidden_size ** 0.5)
        self.layernorm_i = nn.LayerNorm(3 * hidden_size)
        self.layernorm_h = nn.LayerNorm(3 * hidden_size)

    def forward(self, x, h_masked, state):
        hx, _ = state
        xr, xz, xn = self.layernorm_i(x @ self.weight_ih.t()).chunk(3, 1)
        hr, hz, hn = self.layernorm_h(h_masked @ self.weight_hh.t()).chunk(3, 1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * hx, None


# Our parameter names of a layer-normalised cell's parameters.
_LN_NAMES = {"weight_ih": "weight_ih", "weight_hh": "weight_hh", "weight_hr": "weight_hr",
             "layernorm_i.weight": "weight_ln_ih", "layernorm_i.bias": "bias_ih", "layernorm_h.weight": "weight_ln_hh",
             "layernorm_h.bias": "bias_hh",
             "layernorm_c.weight": "weight_ln_c", "layernorm_c.bias": "bias_ln_c"}


def layer_norm_fixture(out_dir, write_fixture, filename, file_seed, cell, num_layers, *, bidirectional=False,
                       lengths=None, p_hidden=0.0, zoneout=None, evaluation=False, T=5, B=3, I=4, H=5, proj_size=0,
                       float64=False, grad_scale=1.0):
    """One file: a stack of layer-normalised cells (gains and biases drawn away from nn.LayerNorm's
    ones and zeros; an LSTM's projected with `proj_size` P > 0), recurrent dropout masks and zoneout
    factors (0 or 1; with `evaluation` p everywhere and no recurrent dropout) passed in, forward,
    backward, write. With `float64` the values are drawn as float32 and the stack then runs in float64,
    so that what is written is the exact result rounded once to float32; `grad_scale` scales the upstream
    gradients."""
    torch.manual_seed(file_seed)
    is_lstm = cell == "lstm"
    L, D = num_layers, 2 if bidirectional else 1
    R = proj_size if proj_size > 0 else H
    if is_lstm:
        cells = [LayerNormLSTMCell(I if k == 0 else D * R, H, proj_size) for k in range(L) for _ in range(D)]
    else:
        cells = [LayerNormGRUCell(I if k == 0 else D * H, H) for k in range(L) for _ in range(D)]
    with torch.no_grad():
        for c in cells:
            for name, p in c.named_parameters():
                if name.startswith("layernorm"):
                    p.copy_((1 + 0.3 * torch.randn_like(p)) if name.endswith("weight") else 0.3 * torch.randn_like(p))
    x = torch.randn(T, B, I).requires_grad_(True)
    h0 = (torch.randn(L * D, B, R) * 0.5).requires_grad_(True)
    c0 = (torch.randn(L * D, B, H) * 0.5).requires_grad_(True) if is_lstm else None
    hidden_masks = (torch.rand(L * D, B, R) >= p_hidden).float() / (1 - p_hidden)
    if evaluation:
        hidden_masks = torch.ones(L * D, B, R)
    zone_h = zone_c = None
    if zoneout is not None:
        p_h, p_c = zoneout
        if evaluation:
            zone_h = [torch.full((T, B, R), p_h) for _ in range(L * D)]
            zone_c = [torch.full((T, B, H), p_c) for _ in range(L * D)]
        else:
            zone_h = [(torch.rand(T, B, R) < p_h).float() for _ in range(L * D)]
            zone_c = [(torch.rand(T, B, H) < p_c).float() for _ in range(L * D)]
    if float64:
        cells = [c.double() for c in cells]
        x, h0 = x.detach().double().requires_grad_(True), h0.detach().double().requires_grad_(True)
        c0 = c0.detach().double().requires_grad_(True) if is_lstm else None
        hidden_masks = hidden_masks.double()
        zone_h = [z.double() for z in zone_h] if zone_h is not None else None
        zone_c = [z.double() for z in zone_c] if zone_c is not None else None
    lengths_ = lengths if lengths is not None else [T] * B
    active = torch.tensor([[1.0 if t < n else 0.0 for n in lengths_] for t in range(T)]).unsqueeze(2)

    def run(cells):
        """The stack over x from h0, c0 with the masks and factors: output, h_n, c_n."""
        layer_input, h_n, c_n = x, [], []
        for k in range(L):
            outs = []
            for d in range(D):
                index = k * D + d
                h, c = h0[index], (c0[index] if is_lstm else None)
                steps = [None] * T
                for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                    a = active[t]
                    h_new, c_new = cells[index](layer_input[t], h * hidden_masks[index], (h, c))
                    if zone_h is not None:
                        h_new = h_new + zone_h[index][t] * (h - h_new)
                        if is_lstm:
                            c_new = c_new + zone_c[index][t] * (c - c_new)
                    h = a * h_new + (1 - a) * h
                    if is_lstm:
                        c = a * c_new + (1 - a) * c
                    steps[t] = a * h_new
                outs.append(torch.stack(steps))
                h_n.append(h)
                if is_lstm:
                    c_n.append(c)
            layer_input = torch.cat(outs, dim=2)
        return layer_input, torch.stack(h_n), (torch.stack(c_n) if is_lstm else None)

    out, h_n, c_n = run(cells)
    g_out, g_hn = torch.randn(*out.shape) * grad_scale, torch.randn(*h_n.shape) * grad_scale
    g_cn = torch.randn(*c_n.shape) * grad_scale if is_lstm else None
    loss = (out * g_out).sum() + (h_n * g_hn).sum() + ((c_n * g_cn).sum() if is_lstm else 0)
    loss.backward()

    tensors = {"input": x, "output": out, "h_n": h_n, "grad_output": g_out, "grad_h_n": g_hn, "grad.input": x.grad,
               "h0": h0, "grad.h0": h0.grad, "mask.hidden": hidden_masks}
    if is_lstm:
        tensors.update({"c0": c0, "grad.c0": c0.grad, "c_n": c_n, "grad_c_n": g_cn})
    G = 4 if is_lstm else 3
    for index, c in enumerate(cells):
        sfx = f"_l{index // D}" + ("_reverse" if index % D == 1 else "")
        tensors["mask.weight_hh" + sfx] = torch.ones(G * H, R)
        if zone_h is not None:
            tensors["zoneout.hidden" + sfx] = zone_h[index]
            if is_lstm:
                tensors["zoneout.cell" + sfx] = zone_c[index]
        for name, p in c.named_parameters():
            tensors[_LN_NAMES[name] + sfx] = p
            tensors["grad." + _LN_NAMES[name] + sfx] = p.grad
    meta = {"cell": cell, "input_size": I, "hidden_size": H, "num_layers": L, "seq_len": T, "batch": B,
            "bidirectional": bidirectional, "has_initial_state": True, "batch_first": False, "seed": file_seed,
            "recurrent_dropout": 0 if evaluation else p_hidden, "weight_drop": 0, "evaluation": evaluation,
            "layer_norm": True}
    if proj_size > 0:
        meta["proj_size"] = proj_size
    if zoneout is not None:
        meta["zoneout"], meta["cell_zoneout"] = zoneout
    if lengths is not None:
        tensors["lengths"] = torch.tensor(lengths, dtype=torch.float32)
        meta["lengths"] = list(lengths)
    # The parameters by our names load into fresh PyTorch cells (strict) and give the same output.
    fresh = [LayerNormLSTMCell(I if k == 0 else D * R, H, proj_size) if is_lstm
             else LayerNormGRUCell(I if k == 0 else D * H, H) for k in range(L) for _ in range(D)]
    fresh = [c.double() for c in fresh] if float64 else fresh
    for index, c in enumerate(fresh):
        sfx = f"_l{index // D}" + ("_reverse" if index % D == 1 else "")
        c.load_state_dict({name: tensors[_LN_NAMES[name] + sfx].detach() for name, _ in c.named_parameters()}, strict=True)
    with torch.no_grad():
        assert torch.equal(run(fresh)[0], out.detach()), f"{filename}: the parameters by our names do not reload"
    write_fixture(out_dir, filename, meta, tensors)
