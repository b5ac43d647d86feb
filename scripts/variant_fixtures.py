"""Fixtures of the recurrent variants PyTorch has no module for (group ``variants`` of
generate_fixtures.py): recurrent (variational) dropout, weight drop on ``weight_hh`` and zoneout,
written as plain PyTorch one step at a time, with the masks passed in as tensors.

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

Variable lengths: sequence b runs its first ``lengths[b]`` steps; the reverse direction starts at
its own last step; padded outputs are zero and final states are those at each sequence's length,
as PyTorch's packed sequences.  With all-ones masks the stack reproduces the ``nn`` module (checked).

Tensors written besides those of 8. (sequence fixtures): ``mask.hidden`` (L·D, B, R),
``mask.weight_hh_l{k}[_reverse]`` (G·H, R) and, with zoneout, ``zoneout.hidden_l{k}[_reverse]``
(T, B, R) and ``zoneout.cell_l{k}[_reverse]`` (T, B, H), indexed by the time step they act on.
"""

import torch

# T = time steps, B = batch, I = input size, H = hidden size, L = layers, D = directions,
# G = gates, P = projection size, R = width of h (P when projecting, else H).


def _cell_step(cell, x_proj, h_masked, h_prev, c_prev, w_hh, b_hh, w_hr):
    """One step for all B rows: (h, c) from x W_ihᵀ + b_ih (B, GH), the masked and the plain h_{t-1}."""
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


def masked_stack(mod, cell, x, lengths, h0, c0, hidden_masks, weight_masks, zone_h=None, zone_c=None):
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
                h_new, c_new = _cell_step(cell, x_proj, h * hidden_masks[index], h, c, w_hh, b_hh, w_hr)
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
                    zoneout=None, evaluation=False, T=5, B=3, I=4, H=5):
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

    out, h_n, c_n = masked_stack(mod, cell, x, lengths, h0, c0, hidden_masks, weight_masks, zone_h, zone_c)
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
