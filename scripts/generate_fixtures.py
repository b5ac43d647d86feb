#!/usr/bin/env python3
"""Generate PyTorch reference fixtures for the RecurrentKit Swift tests.

Usage:
    python3 scripts/generate_fixtures.py [--out DIR] [--only GROUP,...] [--verify]
    python3 scripts/generate_fixtures.py --check-interop MODEL.safetensors IO.json

With no arguments every fixture is (re)generated into
``Tests/RecurrentKitTests/Fixtures/`` (located relative to this script's
repository root), then ``--check-interop`` is run on the freshly written
``interop_lstm.*`` as a self-test.  Needs torch and safetensors
(``pip install safetensors``).  ``--only`` (re)generates just the named
groups (comma separated): recurrent (1.), linear (2.), embedding (3.),
losses (4.), train (5.), interop (6.), dtypes (7.), sequence (8.),
attention (9.), cells (10.), variants (11., scripts/variant_fixtures.py), seq2seq (12.); e.g. ``--only sequence,attention``
writes only the files of
8. and 9.  The self-tests run for interop / dtypes only when those groups
are generated.  ``--verify`` only re-reads the JSON and
``.safetensors`` files already in the output directory and checks that they
are well formed (no regeneration; needs neither torch nor safetensors).

``--check-interop`` (what the Swift test suite runs on a file written by
RecurrentKit): builds ``InteropModel`` (see 6. below), loads MODEL.safetensors
into it with ``load_state_dict(strict=True)``, runs it on IO.json's ``input``
and compares with IO.json's ``output`` (a fixture file in the format below)
within abs 1e-5 + rel 1e-4 * |output|.  All messages go to stdout.  Exit
status: 0 match; 1 mismatch, or an unreadable file / wrong tensor names,
shapes or dtypes; 3 torch or safetensors cannot be imported (the message
names what to ``pip install``); 2 bad command line (argparse).

File format (every file, one line of JSON, keys sorted)::

    {"meta":    {...configuration, plain JSON values...},
     "tensors": {"NAME": {"shape": [d0, d1, ...],
                          "data":  [flat row-major values]}, ...}}

* All tensors are float32 in torch; values are written as ``float(v)`` of the
  float32 values, so parsing them as Float32 is exact.
* Integer tensors (class targets, embedding indices) are stored as floats
  (e.g. ``3.0``) with their shape.
* Scalars have ``"shape": []`` and a one-element ``"data"``.
* Gradients are named ``grad.<name>``.  Every file uses its own fixed
  ``torch.manual_seed``; ``torch.set_num_threads(1)``; float32 everywhere.

Files written:

1. ``recurrent_{cell}_l{L}_{states}.json`` (16 files), cell in rnn_tanh,
   rnn_relu, lstm, gru; L in 1, 2; states ``h0`` (initial states passed) or
   ``zero`` (no initial state passed -> torch default zeros).
   T=5, B=3, I=4, H=6, layout [T, B, F], bias, no dropout, default init.
   tensors: every parameter under its PyTorch name (weight_ih_l0, weight_hh_l0,
   bias_ih_l0, bias_hh_l0, ..._l1), input [T,B,I], h0 [L,B,H] (+ c0 for LSTM;
   only with states=h0), output [T,B,H], h_n [L,B,H] (+ c_n for LSTM),
   grad_output, grad_h_n (+ grad_c_n), and the gradients of
   loss = sum(output*grad_output) + sum(h_n*grad_h_n) [+ sum(c_n*grad_c_n)]:
   grad.input, grad.h0 / grad.c0 (only with states=h0), grad.<param>.
   meta: cell, input_size, hidden_size, num_layers, seq_len, batch,
   has_initial_state.

2. ``linear.json``: nn.Linear(5, 3) applied to input [2,4,5] (leading dims
   flattened).  tensors: weight, bias, input, output, grad_output,
   grad.input, grad.weight, grad.bias (loss = sum(output*grad_output)).

3. ``embedding.json``: nn.Embedding(7, 4); indices [3,5] (as floats, with
   repeats; index 0 and 6 present, some index 3+ times).  tensors: weight,
   indices, output [3,5,4], grad_output, grad.weight.

4. ``loss_mse_{mean,sum}.json``: tensors prediction [4,3], target [4,3],
   loss [], grad.prediction.
   ``loss_cross_entropy_{mean,sum}.json``: nn.CrossEntropyLoss with class
   index targets.  tensors logits [6,5] (with extreme entries: logits[0,2]=80,
   logits[1,0]=-90 (and targets[1]=0), logits[2,:]=50), targets [6],
   loss [], grad.logits.  meta: reduction.

5. Training trajectories, 20 optimizer steps on one fixed batch, model with
   submodules ``rnn`` and ``fc`` (names like ``rnn.weight_ih_l0``,
   ``fc.weight``).  Each iteration: zero_grad; loss; backward; clip (if any);
   optimizer.step(); scheduler.step() (if any).
   tensors: initial.<name>, final.<name>, losses [20] (loss at each step,
   before its update), learning_rates [20] (lr used at each step), input,
   target, and grad_norms [20] (return value of clip_grad_norm_) where a
   norm clip is used.  All hyperparameters are in meta; where a scheduler is
   used, meta.learning_rates_exact holds the float64 lrs torch used.
   * train_lstm_adam_clipnorm.json  LSTM(3,8,2) -> output[-1] -> Linear(8,2),
     MSE mean, Adam(lr=0.01), clip_grad_norm_(max_norm=0.5).
   * train_gru_sgd_clipvalue.json   GRU(3,8,1) -> all steps -> Linear(8,5),
     cross entropy mean over T*B, SGD(lr=0.1, momentum=0.9, nesterov,
     weight_decay=1e-3), clip_grad_value_(0.05), StepLR(5, 0.5).
   * train_rnn_adamw_penalty.json   RNN(3,8,2,tanh) -> output[-1] ->
     Linear(8,1), MSE sum + l1*sum|p| + l2*sum p^2 over all params
     (l1=l2=1e-3), AdamW(lr=0.005, weight_decay=0.01),
     CosineAnnealingLR(T_max=20, eta_min=1e-4).

6. ``interop_lstm.safetensors`` + ``interop_lstm.json``: ``InteropModel``
   (submodules ``lstm`` = LSTM(3,5,2) and ``fc`` = Linear(5,2); forward is
   fc(lstm(x).output[-1])), seeded; its state_dict (keys lstm.weight_ih_l0 ...
   lstm.bias_hh_l1, fc.weight, fc.bias; all F32) written by
   ``safetensors.torch.save_file(..., metadata={"format": "pt"})``.
   The JSON holds input [T=4, B=3, 3] (randn) and output [3, 2] = model(input).
   meta: model.

7. ``dtypes.safetensors`` + ``dtypes.json``: tensors f32 [2,3] (F32),
   f16 [5] (F16), bf16 [2,2] (BF16), f64 [3] (F64), including 0, -0,
   subnormals, the largest finite values of f32/f16/bf16 and f64 values that
   round (1e-8, 3.0000001 -> 3.0, -1e-40 -> an f32 subnormal).  The JSON
   holds, under the same names, the exact float32 values a reader must
   produce (``tensor.to(torch.float32)``).  meta: dtypes {name: dtype}.

8. Sequence layers beyond 1.: bidirectional, packed (variable lengths),
   batch_first and LSTM projections (18 files).  Same conventions as 1.
   (bias, no dropout, default init, loss = sum(output*grad_output) +
   sum(h_n*grad_h_n) [+ sum(c_n*grad_c_n)], so grad_output / grad_h_n /
   grad_c_n are the gradients of the returned output / states); D = 2 if
   bidirectional else 1; initial states are randn*0.5.
   tensors: every parameter under its PyTorch name (weight_ih_l0,
   weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_hr_l0 (proj only), then the
   same with ``_reverse`` when bidirectional, ..._l1...), input, h0 (+ c0 for
   LSTM; only when has_initial_state), output, h_n (+ c_n), grad_output,
   grad_h_n (+ grad_c_n), grad.input, grad.h0 / grad.c0 (only when
   has_initial_state), grad.<param>; packed files also lengths [B] (floats).
   States are always [L*D, B, .] (index layer*D + direction, direction 1 =
   reverse), also with batch_first.
   meta: cell, input_size, hidden_size, num_layers, seq_len, batch,
   bidirectional, has_initial_state, batch_first, seed (+ lengths for packed
   files, + proj_size for proj files).
   * ``sequence_bidirectional_{cell}_l{L}.json`` (6 files), cell in rnn_tanh,
     lstm, gru; L in 1, 2; bidirectional; T=5, B=3, I=4, H=6; h0 (+ c0)
     [2L,B,H] given; input [T,B,I], output [T,B,2H], h_n [2L,B,H].
   * ``sequence_packed_{cell}_{dir}.json`` (6 files), cell in rnn_tanh, lstm,
     gru; dir uni or bi; L=2; T=6, B=4, I=4, H=6; lengths [4,6,1,3] (not
     sorted): ``pack_padded_sequence(input, lengths, enforce_sorted=False)``
     -> module -> ``pad_packed_sequence(..., total_length=T)``; h0 (+ c0)
     [2D,B,H] given.  input [T,B,I] is random at the padded positions
     (t >= lengths[b]) too; they do not matter.  output [T,B,D*H] is the
     padded output (exactly 0 at padded positions); h_n / c_n as torch
     returns them: each sequence's states after its own last step (forward
     direction: step lengths[b]-1; reverse: step 0), in the original batch
     order.  grad_output is random at every position, padded ones included
     (they get no gradient: the padded output is a constant there);
     grad.input is exactly 0 at padded positions.
   * ``sequence_batch_first_{cell}.json`` (2 files), cell in lstm, gru;
     batch_first, bidirectional, L=1, T=5, B=3, I=4, H=6; input [B,T,I],
     output [B,T,2H] (and grad_output, grad.input the same layouts); h0
     (+ c0) [2,B,H] given.
   * ``sequence_batch_first_packed_gru.json``: GRU, batch_first, not
     bidirectional, L=1, T=5, B=3, I=4, H=6, lengths [2,5,3]
     (enforce_sorted=False, total_length=T), no initial state (zeros);
     input [B,T,I] (random at padded positions), output [B,T,H] (0 at padded
     positions), h_n [1,B,H], grad.input 0 at padded positions.
   * ``sequence_proj_lstm_l{L}.json`` (L in 1, 2) and
     ``sequence_proj_lstm_bi.json`` (L=1, bidirectional): nn.LSTM with
     proj_size=3 (P), T=5, B=3, I=4, H=6; parameters also weight_hr_l{k}
     [P,H] (+ _reverse); weight_hh_l{k} is [4H,P], layer 1 input is D*P;
     h0 [L*D,B,P] and c0 [L*D,B,H] given; output [T,B,D*P], h_n [L*D,B,P],
     c_n [L*D,B,H].

9. Masked attention pooling over time (plain torch math, autograd
   gradients): ``attention_{dot,additive}.json``, T=5, B=3, D=6, lengths
   [5,3,1]; values v [T,B,D] randn (random at padded positions t >=
   lengths[b] too); mask m[t,b] = t < lengths[b]; scores [T,B] set to -inf
   where not m; weights = softmax(scores, dim=0 (over t)) (exactly 0 at
   padded positions); context[b,:] = sum_t weights[t,b]*v[t,b,:]; loss =
   sum(context*grad_context).  grad.values is exactly 0 at padded positions.
   * ``attention_dot.json``: parameter query [D] (randn*0.5);
     scores[t,b] = (v[t,b,:] . query) / sqrt(D).
   * ``attention_additive.json`` (Bahdanau): parameters weight [A,D],
     bias [A], vector [A] (randn*0.5 each), A=4;
     scores[t,b] = vector . tanh(weight @ v[t,b,:] + bias).
   tensors: values, the parameters (query | weight, bias, vector), lengths
   [B] (floats), weights [T,B], context [B,D], grad_context [B,D],
   grad.values, grad.<parameter>.
   meta: kind ("dot" | "additive"), T, B, D, lengths, seed (+ attention_size
   for additive).

12. Attention over another sequence and an encoder-decoder (group ``seq2seq``):
   * ``cross_attention_{dot,general,additive}.json``: a query [B,Q] over
     values [T,B,D] (randn, also at padded steps), T=5, B=3, D=6, lengths
     [5,3,1], padded scores set to -inf before the softmax over t; dot:
     scores = v . q (Q=D); general: v . (weight q), weight [D,Q], Q=4;
     additive (Bahdanau): vector . tanh(key_weight v + bias + query_weight q),
     A=5, Q=4; parameters randn*0.5.  loss = sum(context*grad_context).
     tensors: values, query, lengths, the parameters, context, weights,
     grad_context, grad.values, grad.query, grad.<parameter>.
   * ``seq2seq_bahdanau.json``: encoder nn.Embedding(7,4) + nn.LSTM(4,6) over
     packed sources (T=5, B=3, lengths [5,2,4]); decoder nn.Embedding(6,4),
     nn.LSTMCell(4,6) started from the encoder's (h_n, c_n), additive
     attention (A=5) with the new h over the encoder outputs, logits =
     nn.Linear(12,6)([h; context]); teacher forcing over S=4 steps (inputs:
     start token 0, then the targets shifted right), targets padded with
     -100 past lengths [4,2,3]; cross-entropy (mean over real tokens), 20
     Adam steps (lr 0.01), clip_grad_norm_ 1.0.  tensors: initial.* and
     final.* (state_dict names), grad.* of step 1, losses, grad_norms,
     source, decoder_inputs, targets, source_lengths, target_lengths.

10. Schedules (group ``schedules``):
   * ``schedulers.json``: meta.cases holds, for ExponentialLR, LinearLR,
     OneCycleLR (cos, linear, three-phase; cycle_momentum off) and
     ReduceLROnPlateau on scripted metric sequences, the parameters and the
     learning rate after 0, 1, ... steps (SGD, lr 0.1).
   * ``train_plateau_warmup.json``: a training run with LinearLR warm-up per
     step and ReduceLROnPlateau per epoch (see gen_train_plateau_warmup).
"""

import argparse
import json
import math
import os
import struct
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as exc:  # --verify works without torch; the rest exits 3
    TORCH_IMPORT_ERROR = exc
    torch = F = None

    class nn:  # placeholder so that the class definitions below still load
        Module = object
else:
    TORCH_IMPORT_ERROR = None

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "RecurrentKitTests", "Fixtures")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def tensor_entry(t):
    t = torch.as_tensor(t).detach().to(torch.float32).cpu()
    data = [float(v) for v in t.reshape(-1).tolist()]
    for v in data:
        if not math.isfinite(v):
            raise ValueError("non-finite value in fixture tensor")
    return {"shape": list(t.shape), "data": data}


def write_fixture(out_dir, filename, meta, tensors):
    obj = {"meta": meta, "tensors": {k: tensor_entry(v) for k, v in tensors.items()}}
    path = os.path.join(out_dir, filename)
    with open(path, "w") as f:
        f.write(json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False))
        f.write("\n")
    print(path)


def seed(n):
    torch.manual_seed(n)


def missing_dependency():
    """None if torch and safetensors import, else a message naming what to pip install."""
    if TORCH_IMPORT_ERROR is not None:
        return f"cannot import torch ({TORCH_IMPORT_ERROR}); pip install torch"
    try:
        import safetensors.torch  # noqa: F401
    except ImportError as exc:
        return f"cannot import safetensors ({exc}); pip install safetensors"
    return None


# safetensors dtype -> element size in bytes (the dtypes of the format spec)
SAFETENSORS_DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
    "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}


def safetensors_header(path):
    """Parse and check the header of a .safetensors file without torch.

    Returns (header dict, header length); raises ValueError if the file is
    not well formed (header JSON, dtypes, sizes, contiguous data offsets).
    """
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise ValueError("shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", prefix)
        size = os.fstat(f.fileno()).st_size
        if n > size - 8:
            raise ValueError(f"header length {n} exceeds the file size {size}")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"header is not UTF-8 JSON: {exc}")
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise ValueError("__metadata__ is not a string-to-string map")
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            elem = SAFETENSORS_DTYPE_SIZES[dtype]
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"{name}: bad entry {info!r}")
        if not isinstance(shape, list) or not all(
                isinstance(v, int) and v >= 0 for v in shape + [begin, end]):
            raise ValueError(f"{name}: bad shape or data_offsets {info!r}")
        count = math.prod(shape)
        if end - begin != count * elem:
            raise ValueError(f"{name}: data_offsets {[begin, end]} do not hold {shape} {dtype}")
        spans.append((begin, end, name))
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            raise ValueError(f"{name}: data starts at {begin}, expected {at} (gap or overlap)")
        at = end
    if 8 + n + at != size:
        raise ValueError(f"data section is {size - 8 - n} bytes, the tensors need {at}")
    return header, n


# --------------------------------------------------------------------------
# 1. recurrent layers
# --------------------------------------------------------------------------

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def make_rnn(cell, input_size, hidden_size, num_layers, **extra):
    # extra: bidirectional, batch_first, proj_size (LSTM only), used by 8.
    kw = dict(num_layers=num_layers, bias=True, batch_first=False, dropout=0.0)
    kw.update(extra)
    if cell == "rnn_tanh":
        return nn.RNN(input_size, hidden_size, nonlinearity="tanh", **kw)
    if cell == "rnn_relu":
        return nn.RNN(input_size, hidden_size, nonlinearity="relu", **kw)
    if cell == "lstm":
        return nn.LSTM(input_size, hidden_size, **kw)
    if cell == "gru":
        return nn.GRU(input_size, hidden_size, **kw)
    raise ValueError(cell)


def recurrent_tensors(mod, x, h0, c0, out, h_n, c_n, g_out, g_hn, g_cn):
    """The tensors of a recurrent fixture after loss.backward(): parameters, input, initial
    states (when given), outputs, final states, the gradients fed in, and every gradient.
    h0 None means zero initial states; c0, c_n, g_cn are None except for LSTM."""
    tensors = {name: p for name, p in mod.named_parameters()}
    tensors["input"] = x
    tensors["output"] = out
    tensors["h_n"] = h_n
    tensors["grad_output"] = g_out
    tensors["grad_h_n"] = g_hn
    tensors["grad.input"] = x.grad
    if c_n is not None:
        tensors["c_n"] = c_n
        tensors["grad_c_n"] = g_cn
    if h0 is not None:
        tensors["h0"] = h0
        tensors["grad.h0"] = h0.grad
        if c0 is not None:
            tensors["c0"] = c0
            tensors["grad.c0"] = c0.grad
    for name, p in mod.named_parameters():
        tensors["grad." + name] = p.grad
    return tensors


def gen_recurrent(out_dir):
    T, B, I, H = 5, 3, 4, 6
    file_seed = 1000
    for cell in CELLS:
        for L in (1, 2):
            for states in ("h0", "zero"):
                file_seed += 1
                seed(file_seed)
                is_lstm = cell == "lstm"
                given = states == "h0"
                mod = make_rnn(cell, I, H, L)
                x = torch.randn(T, B, I).requires_grad_(True)
                h0 = c0 = None
                if given:
                    h0 = (torch.randn(L, B, H) * 0.5).requires_grad_(True)
                    if is_lstm:
                        c0 = (torch.randn(L, B, H) * 0.5).requires_grad_(True)

                if is_lstm:
                    if given:
                        out, (h_n, c_n) = mod(x, (h0, c0))
                    else:
                        out, (h_n, c_n) = mod(x)
                else:
                    out, h_n = mod(x, h0) if given else mod(x)
                    c_n = None

                g_out = torch.randn(T, B, H)
                g_hn = torch.randn(L, B, H)
                g_cn = torch.randn(L, B, H) if is_lstm else None
                loss = (out * g_out).sum() + (h_n * g_hn).sum()
                if is_lstm:
                    loss = loss + (c_n * g_cn).sum()
                mod.zero_grad()
                loss.backward()

                tensors = recurrent_tensors(mod, x, h0, c0, out, h_n, c_n, g_out, g_hn, g_cn)

                meta = {
                    "cell": cell,
                    "input_size": I,
                    "hidden_size": H,
                    "num_layers": L,
                    "seq_len": T,
                    "batch": B,
                    "has_initial_state": given,
                    "seed": file_seed,
                }
                write_fixture(out_dir, f"recurrent_{cell}_l{L}_{states}.json", meta, tensors)


# --------------------------------------------------------------------------
# 2. linear, 3. embedding
# --------------------------------------------------------------------------

def gen_linear(out_dir):
    s = 2001
    seed(s)
    lin = nn.Linear(5, 3)
    x = torch.randn(2, 4, 5).requires_grad_(True)
    y = lin(x)
    g = torch.randn(2, 4, 3)
    (y * g).sum().backward()
    tensors = {
        "weight": lin.weight, "bias": lin.bias, "input": x, "output": y,
        "grad_output": g, "grad.input": x.grad, "grad.weight": lin.weight.grad,
        "grad.bias": lin.bias.grad,
    }
    meta = {"in_features": 5, "out_features": 3, "input_shape": [2, 4, 5], "seed": s}
    write_fixture(out_dir, "linear.json", meta, tensors)


def gen_embedding(out_dir):
    s = 2002
    seed(s)
    emb = nn.Embedding(7, 4)
    # index 3 appears 4x, 6 appears 3x, 1 appears 3x, 0 appears 2x; 2,4,5 once.
    idx = torch.tensor([[0, 3, 3, 6, 1],
                        [3, 2, 6, 0, 5],
                        [4, 3, 1, 1, 6]], dtype=torch.long)
    y = emb(idx)
    g = torch.randn(3, 5, 4)
    (y * g).sum().backward()
    tensors = {
        "weight": emb.weight, "indices": idx.to(torch.float32), "output": y,
        "grad_output": g, "grad.weight": emb.weight.grad,
    }
    meta = {"num_embeddings": 7, "embedding_dim": 4, "seed": s}
    write_fixture(out_dir, "embedding.json", meta, tensors)


# --------------------------------------------------------------------------
# 4. losses
# --------------------------------------------------------------------------

def gen_losses(out_dir):
    for i, red in enumerate(("mean", "sum")):
        s = 3001 + i
        seed(s)
        pred = torch.randn(4, 3).requires_grad_(True)
        target = torch.randn(4, 3)
        loss = F.mse_loss(pred, target, reduction=red)
        loss.backward()
        write_fixture(out_dir, f"loss_mse_{red}.json",
                      {"loss": "mse", "reduction": red, "seed": s},
                      {"prediction": pred, "target": target, "loss": loss,
                       "grad.prediction": pred.grad})

    for i, red in enumerate(("mean", "sum")):
        s = 3101 + i
        seed(s)
        logits = torch.randn(6, 5) * 3
        logits[0, 2] = 80.0
        logits[1, 0] = -90.0
        logits[2, :] = 50.0
        logits.requires_grad_(True)
        targets = torch.randint(0, 5, (6,))
        targets[1] = 0  # target is the -90 logit: very large per-sample loss
        loss = nn.CrossEntropyLoss(reduction=red)(logits, targets)
        loss.backward()
        write_fixture(out_dir, f"loss_cross_entropy_{red}.json",
                      {"loss": "cross_entropy", "reduction": red, "num_classes": 5, "seed": s},
                      {"logits": logits, "targets": targets.to(torch.float32), "loss": loss,
                       "grad.logits": logits.grad})


# --------------------------------------------------------------------------
# 5. training trajectories
# --------------------------------------------------------------------------

class SeqModel(nn.Module):
    def __init__(self, cell, input_size, hidden_size, num_layers, output_size, head):
        super().__init__()
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers)
        self.fc = nn.Linear(hidden_size, output_size)
        self.head = head

    def forward(self, x):
        out, _ = self.rnn(x)
        if self.head == "last":
            out = out[-1]
        return self.fc(out)


def snapshot(model, prefix):
    return {prefix + k: v.detach().clone() for k, v in model.state_dict().items()}


def gen_train_lstm_adam(out_dir):
    s = 4001
    seed(s)
    cfg = dict(cell="lstm", input_size=3, hidden_size=8, num_layers=2, seq_len=7,
               batch=4, output_size=2, head="last")
    model = SeqModel(cfg["cell"], cfg["input_size"], cfg["hidden_size"],
                     cfg["num_layers"], cfg["output_size"], cfg["head"])
    x = torch.randn(cfg["seq_len"], cfg["batch"], cfg["input_size"])
    y = torch.randn(cfg["batch"], cfg["output_size"])
    lr, betas, eps, wd, clip, steps = 0.01, (0.9, 0.999), 1e-8, 0.0, 0.5, 20
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=eps, weight_decay=wd)
    tensors = snapshot(model, "initial.")
    losses, norms, lrs = [], [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = F.mse_loss(model(x), y, reduction="mean")
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)))
        opt.step()
        losses.append(loss.item())
    tensors.update(snapshot(model, "final."))
    tensors.update({"losses": torch.tensor(losses), "grad_norms": torch.tensor(norms),
                    "learning_rates": torch.tensor(lrs), "input": x, "target": y})
    meta = dict(cfg, loss="mse", reduction="mean", optimizer="adam", lr=lr,
                betas=list(betas), eps=eps, weight_decay=wd, amsgrad=False,
                clip="norm", clip_norm=clip, clip_norm_type=2.0, clip_epsilon=1e-6,
                scheduler="none", steps=steps, seed=s)
    write_fixture(out_dir, "train_lstm_adam_clipnorm.json", meta, tensors)


def gen_train_gru_sgd(out_dir):
    s = 4002
    seed(s)
    cfg = dict(cell="gru", input_size=3, hidden_size=8, num_layers=1, seq_len=6,
               batch=4, output_size=5, head="all")
    model = SeqModel(cfg["cell"], cfg["input_size"], cfg["hidden_size"],
                     cfg["num_layers"], cfg["output_size"], cfg["head"])
    T, B, C = cfg["seq_len"], cfg["batch"], cfg["output_size"]
    x = torch.randn(T, B, cfg["input_size"])
    y = torch.randint(0, C, (T, B))
    lr, mom, wd, damp, clip, steps = 0.1, 0.9, 1e-3, 0.0, 0.05, 20
    step_size, gamma = 5, 0.5
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mom, dampening=damp,
                          weight_decay=wd, nesterov=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    tensors = snapshot(model, "initial.")
    losses, lrs = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        logits = model(x)  # [T, B, C]
        loss = F.cross_entropy(logits.reshape(-1, C), y.reshape(-1), reduction="mean")
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), clip)
        opt.step()
        sched.step()
        losses.append(loss.item())
    tensors.update(snapshot(model, "final."))
    tensors.update({"losses": torch.tensor(losses), "learning_rates": torch.tensor(lrs),
                    "input": x, "target": y.to(torch.float32)})
    meta = dict(cfg, loss="cross_entropy", reduction="mean", optimizer="sgd", lr=lr,
                momentum=mom, dampening=damp, nesterov=True, weight_decay=wd,
                clip="value", clip_value=clip, scheduler="step_lr",
                step_size=step_size, gamma=gamma, steps=steps, seed=s,
                learning_rates_exact=lrs)
    write_fixture(out_dir, "train_gru_sgd_clipvalue.json", meta, tensors)


def gen_train_rnn_adamw(out_dir):
    s = 4003
    seed(s)
    cfg = dict(cell="rnn_tanh", input_size=3, hidden_size=8, num_layers=2, seq_len=7,
               batch=4, output_size=1, head="last")
    model = SeqModel(cfg["cell"], cfg["input_size"], cfg["hidden_size"],
                     cfg["num_layers"], cfg["output_size"], cfg["head"])
    x = torch.randn(cfg["seq_len"], cfg["batch"], cfg["input_size"])
    y = torch.randn(cfg["batch"], cfg["output_size"])
    lr, betas, eps, wd, steps = 0.005, (0.9, 0.999), 1e-8, 0.01, 20
    l1, l2, t_max, eta_min = 1e-3, 1e-3, 20, 1e-4
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=betas, eps=eps, weight_decay=wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    tensors = snapshot(model, "initial.")
    losses, lrs = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = F.mse_loss(model(x), y, reduction="sum")
        params = list(model.parameters())
        loss = loss + l1 * sum(p.abs().sum() for p in params) \
                    + l2 * sum(p.pow(2).sum() for p in params)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    tensors.update(snapshot(model, "final."))
    tensors.update({"losses": torch.tensor(losses), "learning_rates": torch.tensor(lrs),
                    "input": x, "target": y})
    meta = dict(cfg, loss="mse", reduction="sum", l1=l1, l2=l2,
                penalty="l1*sum|p| + l2*sum(p^2) over all parameters",
                optimizer="adamw", lr=lr, betas=list(betas), eps=eps, weight_decay=wd,
                amsgrad=False, clip="none", scheduler="cosine_annealing",
                t_max=t_max, eta_min=eta_min, steps=steps, seed=s,
                learning_rates_exact=lrs)
    write_fixture(out_dir, "train_rnn_adamw_penalty.json", meta, tensors)


# --------------------------------------------------------------------------
# 6. safetensors interop, 7. safetensors dtypes
# --------------------------------------------------------------------------

class InteropModel(nn.Module):
    # names matter: state_dict keys lstm.weight_ih_l0 ... fc.weight, fc.bias
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, num_layers=2)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[-1])


def gen_interop(out_dir):
    from safetensors.torch import save_file
    s = 5001
    seed(s)
    model = InteropModel()
    x = torch.randn(4, 3, 3)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(out_dir, "interop_lstm.safetensors")
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
              path, metadata={"format": "pt"})
    print(path)
    write_fixture(out_dir, "interop_lstm.json",
                  {"model": "lstm(3,5,2)+linear(5,2), last step"},
                  {"input": x, "output": y})


DTYPE_NAMES = {"f32": "F32", "f16": "F16", "bf16": "BF16", "f64": "F64"}


def gen_dtypes(out_dir):
    from safetensors.torch import save_file
    tensors = {
        # 0, -0, smallest subnormal 2^-149; largest finite, -smallest normal, 0.1
        "f32": torch.tensor([[0.0, -0.0, 2.0 ** -149],
                             [3.4028234663852886e38, -1.1754943508222875e-38, 0.1]],
                            dtype=torch.float32),
        # 0, -0, smallest subnormal 2^-24, largest finite 65504, -0.1 (rounded)
        "f16": torch.tensor([0.0, -0.0, 2.0 ** -24, 65504.0, -0.1], dtype=torch.float16),
        # 1, -pi (rounded to 3.140625), largest finite, smallest subnormal 2^-133
        "bf16": torch.tensor([[1.0, -math.pi], [3.3895313892515355e38, 2.0 ** -133]],
                             dtype=torch.bfloat16),
        # rounding to f32: 1e-8 (inexact), 3.0000001 -> 3.0, -1e-40 -> f32 subnormal
        "f64": torch.tensor([1e-8, 3.0000001, -1e-40], dtype=torch.float64),
    }
    as_f32 = {k: v.to(torch.float32) for k, v in tensors.items()}
    # guard against a silent flush to zero / overflow while building the values
    assert as_f32["f32"][0, 2] > 0 and as_f32["f16"][2] == 2.0 ** -24
    assert as_f32["f16"][3] == 65504.0 and as_f32["bf16"][1, 1] == 2.0 ** -133
    assert as_f32["bf16"][0, 1] == -3.140625 and as_f32["f64"][1] == 3.0
    assert 0 > as_f32["f64"][2] > -2.0 ** -126
    assert all(math.copysign(1.0, float(as_f32[k].reshape(-1)[1])) < 0 for k in ("f32", "f16"))
    path = os.path.join(out_dir, "dtypes.safetensors")
    save_file(tensors, path, metadata={"format": "pt"})
    print(path)
    write_fixture(out_dir, "dtypes.json", {"dtypes": dict(DTYPE_NAMES)}, as_f32)


def self_test_dtypes(out_dir):
    """dtypes.safetensors holds the dtypes/shapes of dtypes.json and its values."""
    from safetensors.torch import load_file
    path = os.path.join(out_dir, "dtypes.safetensors")
    header, _ = safetensors_header(path)
    loaded = load_file(path)
    with open(os.path.join(out_dir, "dtypes.json")) as f:
        ref = json.load(f)
    ok = set(header) - {"__metadata__"} == set(ref["meta"]["dtypes"])
    for name, dtype in ref["meta"]["dtypes"].items():
        t = ref["tensors"][name]
        got = tensor_entry(loaded[name])
        ok = ok and header[name]["dtype"] == dtype and got == t and \
            [math.copysign(1.0, v) for v in got["data"]] == \
            [math.copysign(1.0, v) for v in t["data"]]
    print(f"self-test dtypes.safetensors: {'ok' if ok else 'FAIL'}")
    return ok


def read_fixture_tensor(obj, name):
    """Tensor NAME of a parsed fixture file as a float32 torch tensor."""
    try:
        t = obj["tensors"][name]
        shape = [int(d) for d in t["shape"]]
        data = [float(v) for v in t["data"]]
    except (TypeError, KeyError, ValueError):
        raise ValueError(f"no well-formed tensor {name!r}")
    if math.prod(shape) != len(data) or any(d < 0 for d in shape):
        raise ValueError(f"tensor {name!r}: shape {shape} vs {len(data)} values")
    return torch.tensor(data, dtype=torch.float32).reshape(shape)


def check_interop(model_path, io_path):
    """--check-interop; returns the exit status (see the module docstring)."""
    problem = missing_dependency()
    if problem:
        print(f"check-interop: {problem}")
        return 3
    from safetensors import safe_open
    torch.set_num_threads(1)
    name = os.path.basename(model_path)

    try:
        with safe_open(model_path, framework="pt") as f:
            file_meta = f.metadata()
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # SafetensorError, OSError, ...
        print(f"check-interop: cannot read {model_path}: {exc}")
        return 1
    try:
        with open(io_path) as f:
            io = json.load(f)
        x = read_fixture_tensor(io, "input")
        y_ref = read_fixture_tensor(io, "output")
    except (OSError, ValueError) as exc:
        print(f"check-interop: cannot read {io_path}: {exc}")
        return 1
    print(f"check-interop: {name}: {len(state)} tensors, __metadata__ {file_meta}")

    model = InteropModel()
    model.eval()
    want = model.state_dict()
    problems = [f"missing tensor {k} (shape {list(v.shape)})" for k, v in want.items()
                if k not in state]
    problems += [f"unexpected tensor {k}" for k in state if k not in want]
    problems += [f"{k}: shape {list(state[k].shape)}, the model needs {list(v.shape)}"
                 for k, v in want.items() if k in state and state[k].shape != v.shape]
    problems += [f"{k}: dtype {state[k].dtype} is not floating point"
                 for k in want if k in state and not state[k].is_floating_point()]
    if not problems:
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            problems.append(f"load_state_dict(strict=True): {exc}")
    if problems:
        print(f"check-interop: {name} does not match InteropModel "
              f"(lstm(3,5,2)+linear(5,2)):")
        for p in problems:
            print(f"  {p}")
        return 1
    others = sorted({str(v.dtype) for v in state.values()} - {"torch.float32"})
    if others:
        print(f"check-interop: note: tensors converted to float32 from {', '.join(others)}")

    if x.dim() != 3 or x.shape[2] != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        print(f"check-interop: {io_path}: input shape {list(x.shape)}, expected [T, B, 3]")
        return 1
    with torch.no_grad():
        y = model(x)
    if y.shape != y_ref.shape:
        print(f"check-interop: output shape {list(y.shape)} (input {list(x.shape)}) "
              f"but {io_path} has {list(y_ref.shape)}")
        return 1
    diff = (y - y_ref).abs()
    bad = int((~(diff <= 1e-5 + 1e-4 * y_ref.abs())).sum())  # NaN counts as bad
    print(f"check-interop: output {list(y.shape)}: max abs diff {float(diff.max()):.3g}, "
          f"{bad} of {y.numel()} values outside abs 1e-5 + rel 1e-4")
    print("check-interop: " + ("MISMATCH" if bad else "ok"))
    return 1 if bad else 0


# --------------------------------------------------------------------------
# 8. sequence layers: bidirectional, packed, batch_first, LSTM projections
# --------------------------------------------------------------------------

SEQ_CELLS = ["rnn_tanh", "lstm", "gru"]


def seq_fixture(out_dir, filename, file_seed, cell, num_layers, *, bidirectional=False,
                batch_first=False, lengths=None, given=True, proj_size=0,
                T=5, B=3, I=4, H=6):
    """One file of 8.: forward (packed if lengths), backward, sanity checks, write."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    seed(file_seed)
    is_lstm = cell == "lstm"
    L, D = num_layers, 2 if bidirectional else 1
    P = proj_size or H  # size of h (output features per direction)
    extra = dict(bidirectional=bidirectional, batch_first=batch_first)
    if proj_size:
        extra["proj_size"] = proj_size
    mod = make_rnn(cell, I, H, L, **extra)
    x = torch.randn(*((B, T, I) if batch_first else (T, B, I))).requires_grad_(True)
    h0 = c0 = None
    if given:
        h0 = (torch.randn(L * D, B, P) * 0.5).requires_grad_(True)
        if is_lstm:
            c0 = (torch.randn(L * D, B, H) * 0.5).requires_grad_(True)

    inp = x
    if lengths is not None:
        inp = pack_padded_sequence(x, torch.tensor(lengths, dtype=torch.int64),
                                   batch_first=batch_first, enforce_sorted=False)
    if is_lstm:
        res, (h_n, c_n) = mod(inp, (h0, c0)) if given else mod(inp)
    else:
        res, h_n = mod(inp, h0) if given else mod(inp)
        c_n = None
    out = res
    if lengths is not None:
        out, _ = pad_packed_sequence(res, batch_first=batch_first, total_length=T)

    g_out = torch.randn(*out.shape)
    g_hn = torch.randn(*h_n.shape)
    g_cn = torch.randn(*c_n.shape) if is_lstm else None
    loss = (out * g_out).sum() + (h_n * g_hn).sum()
    if is_lstm:
        loss = loss + (c_n * g_cn).sum()
    mod.zero_grad()
    loss.backward()

    # sanity checks (time-major views)
    out_t = out.detach().transpose(0, 1) if batch_first else out.detach()
    gx_t = x.grad.transpose(0, 1) if batch_first else x.grad
    assert list(out_t.shape) == [T, B, D * P] and list(h_n.shape) == [L * D, B, P]
    if is_lstm:
        assert list(c_n.shape) == [L * D, B, H]
    lens = lengths if lengths is not None else [T] * B
    for b, n in enumerate(lens):
        # last layer: forward state = output at its last step, reverse = output at step 0
        assert torch.equal(h_n[(L - 1) * D, b].detach(), out_t[n - 1, b, :P])
        if bidirectional:
            assert torch.equal(h_n[(L - 1) * D + 1, b].detach(), out_t[0, b, P:])
        if n < T:
            assert torch.count_nonzero(out_t[n:, b]) == 0
            assert torch.count_nonzero(gx_t[n:, b]) == 0
        assert torch.count_nonzero(gx_t[:n, b]) == n * I

    tensors = recurrent_tensors(mod, x, h0, c0, out, h_n, c_n, g_out, g_hn, g_cn)
    if lengths is not None:
        tensors["lengths"] = torch.tensor(lengths, dtype=torch.float32)

    meta = {
        "cell": cell,
        "input_size": I,
        "hidden_size": H,
        "num_layers": L,
        "seq_len": T,
        "batch": B,
        "bidirectional": bidirectional,
        "has_initial_state": given,
        "batch_first": batch_first,
        "seed": file_seed,
    }
    if lengths is not None:
        meta["lengths"] = list(lengths)
    if proj_size:
        meta["proj_size"] = proj_size
    write_fixture(out_dir, filename, meta, tensors)


def gen_sequence(out_dir):
    s = 6000
    for cell in SEQ_CELLS:
        for L in (1, 2):
            s += 1
            seq_fixture(out_dir, f"sequence_bidirectional_{cell}_l{L}.json", s, cell, L,
                        bidirectional=True)
    s = 6100
    for cell in SEQ_CELLS:
        for d in ("uni", "bi"):
            s += 1
            seq_fixture(out_dir, f"sequence_packed_{cell}_{d}.json", s, cell, 2,
                        bidirectional=d == "bi", lengths=[4, 6, 1, 3], T=6, B=4)
    s = 6200
    for cell in ("lstm", "gru"):
        s += 1
        seq_fixture(out_dir, f"sequence_batch_first_{cell}.json", s, cell, 1,
                    bidirectional=True, batch_first=True)
    seq_fixture(out_dir, "sequence_batch_first_packed_gru.json", 6211, "gru", 1,
                batch_first=True, lengths=[2, 5, 3], given=False)
    s = 6300
    for L, bi, tag in ((1, False, "l1"), (2, False, "l2"), (1, True, "bi")):
        s += 1
        seq_fixture(out_dir, f"sequence_proj_lstm_{tag}.json", s, "lstm", L,
                    bidirectional=bi, proj_size=3)


# --------------------------------------------------------------------------
# 9. masked attention pooling
# --------------------------------------------------------------------------

def gen_attention(out_dir):
    T, B, D, A = 5, 3, 6, 4
    lengths = [5, 3, 1]
    for kind, s in (("dot", 7001), ("additive", 7002)):
        seed(s)
        v = torch.randn(T, B, D).requires_grad_(True)
        if kind == "dot":
            query = (torch.randn(D) * 0.5).requires_grad_(True)
            params = {"query": query}
            scores = (v * query).sum(-1) / math.sqrt(D)
        else:
            weight = (torch.randn(A, D) * 0.5).requires_grad_(True)
            bias = (torch.randn(A) * 0.5).requires_grad_(True)
            vector = (torch.randn(A) * 0.5).requires_grad_(True)
            params = {"weight": weight, "bias": bias, "vector": vector}
            scores = (torch.tanh(v @ weight.t() + bias) * vector).sum(-1)
        mask = torch.arange(T).unsqueeze(1) < torch.tensor(lengths).unsqueeze(0)  # [T, B]
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=0)
        context = (weights.unsqueeze(-1) * v).sum(0)  # [B, D]
        g = torch.randn(B, D)
        (context * g).sum().backward()

        assert torch.count_nonzero(weights.detach()[~mask]) == 0
        assert torch.count_nonzero(v.grad[~mask]) == 0
        assert torch.count_nonzero(v.grad[mask]) == int(mask.sum()) * D
        assert torch.allclose(weights.detach().sum(0), torch.ones(B))

        tensors = {"values": v}
        tensors.update(params)
        tensors.update({"lengths": torch.tensor(lengths, dtype=torch.float32),
                        "weights": weights, "context": context, "grad_context": g,
                        "grad.values": v.grad})
        for name, p in params.items():
            tensors["grad." + name] = p.grad
        meta = {"kind": kind, "T": T, "B": B, "D": D, "lengths": list(lengths), "seed": s}
        if kind == "additive":
            meta["attention_size"] = A
        write_fixture(out_dir, f"attention_{kind}.json", meta, tensors)


# --------------------------------------------------------------------------
# verification
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# 10. cells: one nn.LSTMCell called at two places in a model
# --------------------------------------------------------------------------

class SharedCellModel(nn.Module):
    """One LSTMCell run over x1, then (the same cell, from the state reached) over x2, and a
    Linear head on the last h: the cell's gradients are the sum of both places'."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x1, x2):
        h = torch.zeros(x1.shape[1], self.cell.hidden_size)
        c = torch.zeros_like(h)
        for t in range(x1.shape[0]):      # place 1
            h, c = self.cell(x1[t], (h, c))
        for t in range(x2.shape[0]):      # place 2
            h, c = self.cell(x2[t], (h, c))
        return self.fc(h)


def train_adam_clipped(model, loss_fn, lr, clip, steps):
    """Trains `steps` Adam steps with clip_grad_norm_; returns initial.* and final.* weights,
    grad.* of the first step, the losses and the gradient norms before clipping."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    tensors = snapshot(model, "initial.")
    losses, norms = [], []
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        if step == 0:
            tensors.update({"grad." + k: p.grad.detach().clone() for k, p in model.named_parameters()})
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)))
        opt.step()
        losses.append(loss.item())
    tensors.update(snapshot(model, "final."))
    tensors.update({"losses": torch.tensor(losses), "grad_norms": torch.tensor(norms)})
    return tensors


def gen_cells(out_dir):
    s = 10001
    seed(s)
    cfg = dict(input_size=3, hidden_size=5, output_size=2, first_len=4, second_len=3, batch=3)
    model = SharedCellModel(cfg["input_size"], cfg["hidden_size"], cfg["output_size"])
    x1 = torch.randn(cfg["first_len"], cfg["batch"], cfg["input_size"])
    x2 = torch.randn(cfg["second_len"], cfg["batch"], cfg["input_size"])
    y = torch.randn(cfg["batch"], cfg["output_size"])
    lr, clip, steps = 0.02, 0.5, 20
    tensors = train_adam_clipped(model, lambda: F.mse_loss(model(x1, x2), y), lr, clip, steps)
    tensors.update({"x1": x1, "x2": x2, "target": y})
    meta = dict(cfg, optimizer="adam", lr=lr, clip_norm=clip, steps=steps, seed=s)
    write_fixture(out_dir, "cell_shared_lstm.json", meta, tensors)


# --------------------------------------------------------------------------
# 12. attention over another sequence, and an encoder-decoder trained with
#     teacher forcing (group ``seq2seq``)
# --------------------------------------------------------------------------

def cross_attention(score, query, values, lengths, params):
    """Context [B,D] and weights [T,B] of a query [B,Q] over values [T,B,D], masked by lengths."""
    if score == "dot":
        scores = (values * query[None]).sum(-1)
    elif score == "general":
        scores = (values * (query @ params["weight"].t())[None]).sum(-1)
    else:
        hidden = values @ params["key_weight"].t() + params["bias"] + (query @ params["query_weight"].t())[None]
        scores = torch.tanh(hidden) @ params["vector"]
    steps = torch.arange(values.shape[0])[:, None]
    scores = scores.masked_fill(steps >= lengths[None], float("-inf"))
    weights = torch.softmax(scores, dim=0)
    return (weights[..., None] * values).sum(0), weights


def gen_cross_attention(out_dir):
    for k, score in enumerate(["dot", "general", "additive"]):
        s = 11001 + k
        seed(s)
        T, B, D, A = 5, 3, 6, 5
        Q = D if score == "dot" else 4
        lengths = torch.tensor([5, 3, 1])
        values = torch.randn(T, B, D, requires_grad=True)
        query = torch.randn(B, Q, requires_grad=True)
        shapes = {"dot": {}, "general": {"weight": (D, Q)},
                  "additive": {"query_weight": (A, Q), "key_weight": (A, D), "bias": (A,), "vector": (A,)}}[score]
        params = {n: (torch.randn(*shape) * 0.5).requires_grad_() for n, shape in shapes.items()}
        context, weights = cross_attention(score, query, values, lengths, params)
        grad_context = torch.randn(B, D)
        (context * grad_context).sum().backward()
        tensors = {"values": values, "query": query, "lengths": lengths.float(), "context": context,
                   "weights": weights, "grad_context": grad_context, "grad.values": values.grad,
                   "grad.query": query.grad}
        for n, p in params.items():
            tensors[n] = p
            tensors["grad." + n] = p.grad
        meta = dict(score=score, T=T, B=B, Q=Q, D=D, lengths=lengths.tolist(), seed=s)
        if score == "additive":
            meta["attention_size"] = A
        write_fixture(out_dir, f"cross_attention_{score}.json", meta, tensors)


class AdditiveAttention(nn.Module):
    """Bahdanau's score vector . tanh(key_weight k + query_weight q + bias), as CrossAttention."""

    def __init__(self, query_size, key_size, attention_size):
        super().__init__()
        def uniform(shape, fan_in):
            bound = 1 / math.sqrt(fan_in)
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))
        self.query_weight = uniform((attention_size, query_size), query_size)
        self.key_weight = uniform((attention_size, key_size), key_size)
        self.bias = uniform((attention_size,), key_size)
        self.vector = uniform((attention_size,), attention_size)

    def forward(self, query, values, lengths):
        return cross_attention("additive", query, values, lengths, dict(self.named_parameters()))


class AttnDecoder(nn.Module):
    """embedding -> LSTMCell -> attention with the new h -> Linear([h; context]), as AttentionDecoder."""

    def __init__(self, vocab, emb, hidden, enc, attn):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.cell = nn.LSTMCell(emb, hidden)
        self.attention = AdditiveAttention(hidden, enc, attn)
        self.output = nn.Linear(hidden + enc, vocab)

    def forward(self, inputs, state, values, lengths):  # teacher forcing: inputs [S,B]
        logits = []
        for t in range(inputs.shape[0]):
            state = self.cell(self.embedding(inputs[t]), state)
            context, _ = self.attention(state[0], values, lengths)
            logits.append(self.output(torch.cat([state[0], context], -1)))
        return torch.stack(logits)


class Seq2Seq(nn.Module):
    def __init__(self, vin, vout, emb, hidden, attn):
        super().__init__()
        self.encoder_embedding = nn.Embedding(vin, emb)
        self.encoder = nn.LSTM(emb, hidden)
        self.decoder = AttnDecoder(vout, emb, hidden, hidden, attn)

    def forward(self, source, lengths, inputs):
        packed = nn.utils.rnn.pack_padded_sequence(self.encoder_embedding(source), lengths, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        values, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=source.shape[0])
        return self.decoder(inputs, (h[-1], c[-1]), values, lengths)


def gen_seq2seq(out_dir):
    s = 11101
    seed(s)
    cfg = dict(source_vocab=7, target_vocab=6, embedding_size=4, hidden_size=6, attention_size=5,
               source_steps=5, target_steps=4, batch=3)
    model = Seq2Seq(cfg["source_vocab"], cfg["target_vocab"], cfg["embedding_size"], cfg["hidden_size"],
                    cfg["attention_size"])
    B = cfg["batch"]
    source_lengths = torch.tensor([5, 2, 4])
    target_lengths = torch.tensor([4, 2, 3])
    source = torch.randint(1, cfg["source_vocab"], (cfg["source_steps"], B))
    targets = torch.randint(1, cfg["target_vocab"], (cfg["target_steps"], B))
    for b in range(B):
        source[source_lengths[b]:, b] = 0
        targets[target_lengths[b]:, b] = -100
    inputs = torch.cat([torch.zeros(1, B, dtype=torch.long), targets[:-1].clamp(min=0)])  # start token 0
    lr, clip, steps = 0.01, 1.0, 20

    def loss():
        logits = model(source, source_lengths, inputs)
        return F.cross_entropy(logits.reshape(-1, cfg["target_vocab"]), targets.reshape(-1), ignore_index=-100)
    tensors = train_adam_clipped(model, loss, lr, clip, steps)
    tensors.update({"source": source.float(), "decoder_inputs": inputs.float(), "targets": targets.float(),
                    "source_lengths": source_lengths.float(), "target_lengths": target_lengths.float()})
    meta = dict(cfg, optimizer="adam", lr=lr, clip_norm=clip, steps=steps, seed=s,
                source_lengths=source_lengths.tolist(), target_lengths=target_lengths.tolist())
    write_fixture(out_dir, "seq2seq_bahdanau.json", meta, tensors)


def verify(out_dir):
    files = sorted(f for f in os.listdir(out_dir) if f.endswith(".json"))
    ok = True
    for fn in files:
        with open(os.path.join(out_dir, fn)) as f:
            obj = json.load(f)
        problems = []
        if set(obj) != {"meta", "tensors"} or not isinstance(obj["meta"], dict):
            problems.append("bad top-level keys")
        for name, t in obj.get("tensors", {}).items():
            n = 1
            for d in t["shape"]:
                n *= d
            if n != len(t["data"]):
                problems.append(f"{name}: shape {t['shape']} vs {len(t['data'])} values")
            if not all(isinstance(v, float) and math.isfinite(v) for v in t["data"]):
                problems.append(f"{name}: non-finite or non-float value")
        status = "ok" if not problems else "FAIL " + "; ".join(problems)
        ok = ok and not problems
        print(f"{fn}: {len(obj.get('tensors', {}))} tensors, {status}")
    for fn in sorted(f for f in os.listdir(out_dir) if f.endswith(".safetensors")):
        try:
            header, _ = safetensors_header(os.path.join(out_dir, fn))
            status = f"{len(header) - ('__metadata__' in header)} tensors, ok"
        except (OSError, ValueError) as exc:
            status, ok = f"FAIL {exc}", False
        print(f"{fn}: {status}")
    return ok



# --------------------------------------------------------------------------
# 10. schedulers and callbacks
# --------------------------------------------------------------------------

def _lrs_per_step(make_sched, steps, lr=0.1, step_after=None):
    """The lr of positions 0..steps of a scheduler made over a one-parameter SGD."""
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make_sched(opt)
    out = [opt.param_groups[0]["lr"]]
    for k in range(steps):
        opt.step()
        sched.step() if step_after is None else sched.step(step_after[k])
        out.append(opt.param_groups[0]["lr"])
    return out


def gen_schedulers(out_dir):
    """schedulers.json: meta.cases[name] = {params, lrs}: the learning rate at positions
    0..N (the rate the optimizer holds after N scheduler steps) of ExponentialLR,
    LinearLR, OneCycleLR (cos, linear, three-phase; steps_allowed: the scheduler steps PyTorch
    takes before it raises) over SGD(lr=0.1), and
    ReduceLROnPlateau stepped with the scripted metrics meta.cases[name].metrics."""
    L = torch.optim.lr_scheduler
    cases = {}
    cases["exponential"] = dict(gamma=0.8, lrs=_lrs_per_step(lambda o: L.ExponentialLR(o, gamma=0.8), 10))
    cases["linear"] = dict(start_factor=0.25, end_factor=0.9, total_iters=4,
                           lrs=_lrs_per_step(lambda o: L.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=4), 8))
    for name, kw in [("one_cycle_cos", dict(anneal_strategy="cos")), ("one_cycle_linear", dict(anneal_strategy="linear")),
                     ("one_cycle_three_phase", dict(anneal_strategy="cos", three_phase=True))]:
        args = dict(max_lr=0.5, total_steps=20, pct_start=0.25, div_factor=10.0, final_div_factor=100.0)
        lrs = _lrs_per_step(lambda o: L.OneCycleLR(o, cycle_momentum=False, **args, **kw), 19)
        # How many steps PyTorch takes before it raises ("Tried to step N times").
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
        sched, allowed = L.OneCycleLR(opt, cycle_momentum=False, **args, **kw), 0
        while True:
            opt.step()
            try:
                sched.step()
            except ValueError:
                break
            allowed += 1
        cases[name] = dict(args, **kw, lrs=lrs, steps_allowed=allowed)
    # ReduceLROnPlateau on scripted metric sequences.
    scripts = {
        "plateau_min_rel": (dict(mode="min", factor=0.5, patience=2, threshold=0.01, threshold_mode="rel", cooldown=0, min_lr=0.0),
                            [1.0, 0.9, 0.895, 0.894, 0.893, 0.8, 0.81, 0.82, 0.83, 0.7, 0.7, 0.7, 0.7, 0.7]),
        "plateau_min_abs_cooldown": (dict(mode="min", factor=0.1, patience=1, threshold=0.05, threshold_mode="abs", cooldown=2, min_lr=0.0015),
                                     [1.0, 0.98, 0.97, 0.96, 0.9, 0.89, 0.88, 0.87, 0.86, 0.85, 0.84, 0.83]),
        "plateau_max": (dict(mode="max", factor=0.3, patience=0, threshold=0.1, threshold_mode="rel", cooldown=1, min_lr=0.0),
                        [0.5, 0.6, 0.62, 0.7, 0.71, 0.72, 0.9, 0.91]),
    }
    for name, (kw, metrics) in scripts.items():
        lrs = _lrs_per_step(lambda o: L.ReduceLROnPlateau(o, **kw), len(metrics), step_after=metrics)
        cases[name] = dict(kw, metrics=metrics, lrs=lrs)
    write_fixture(out_dir, "schedulers.json", dict(lr=0.1, cases=cases), {})


def gen_train_plateau_warmup(out_dir):
    """train_plateau_warmup.json: LSTM(2,6) -> output[-1] -> Linear(6,1), MSE mean, Adam(lr=0.05),
    clip_grad_norm_(1.0); one full batch of the 16 training sequences per epoch for 16 epochs;
    LinearLR(start_factor=0.1, total_iters=4) stepped after every batch (the warm-up) and
    ReduceLROnPlateau(val_loss, factor=0.5, patience=1, threshold=0.02) after every epoch.
    tensors: initial.<name>, train_x (N,T,F), train_y (N,1), val_x, val_y, losses and
    learning_rates per step, val_losses per epoch."""
    s = 4010
    seed(s)
    N, V, T, F_ = 16, 8, 5, 2
    model = SeqModel("lstm", F_, 6, 1, 1, "last")
    tx, vx = torch.randn(N, T, F_), torch.randn(V, T, F_)
    ty, vy = tx.sum(dim=(1, 2)).unsqueeze(1) * 0.3, vx.sum(dim=(1, 2)).unsqueeze(1) * 0.3
    lr, epochs, clip = 0.05, 16, 1.0
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, threshold=0.02)
    tensors = snapshot(model, "initial.")
    losses, lrs, val_losses, margins = [], [], [], []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = F.mse_loss(model(tx.transpose(0, 1)), ty)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
        opt.step()
        warm.step()
        losses.append(loss.item())
        with torch.no_grad():
            v = F.mse_loss(model(vx.transpose(0, 1)), vy).item()
        if math.isfinite(plateau.best):
            margins.append(abs(v - plateau.best * (1 - 0.02)) / plateau.best)
        plateau.step(v)
        val_losses.append(v)
    assert min(margins) > 1e-3, f"a plateau decision lies within {min(margins)} of its threshold"
    assert len(set(lrs[4:])) > 1, "ReduceLROnPlateau never reduced the rate"
    tensors.update({"train_x": tx, "train_y": ty, "val_x": vx, "val_y": vy, "losses": torch.tensor(losses),
                    "learning_rates": torch.tensor(lrs), "val_losses": torch.tensor(val_losses)})
    meta = dict(cell="lstm", input_size=F_, hidden_size=6, num_layers=1, output_size=1, head="last", lr=lr,
                epochs=epochs, batch=N, clip_norm=clip, warmup_start_factor=0.1, warmup_steps=4,
                plateau_factor=0.5, plateau_patience=1, plateau_threshold=0.02, seed=s,
                min_decision_margin=min(margins))
    write_fixture(out_dir, "train_plateau_warmup.json", meta, tensors)


# --only group -> generators, in the order of a full run
# --------------------------------------------------------------------------
# 11. recurrent dropout and weight drop, masks passed in (scripts/variant_fixtures.py)
# --------------------------------------------------------------------------

def gen_variants(out_dir):
    import variant_fixtures
    variant_fixtures.gen_variants(out_dir, write_fixture, make_rnn)


GENERATORS = {
    "recurrent": [gen_recurrent],
    "linear": [gen_linear],
    "embedding": [gen_embedding],
    "losses": [gen_losses],
    "train": [gen_train_lstm_adam, gen_train_gru_sgd, gen_train_rnn_adamw],
    "interop": [gen_interop],
    "dtypes": [gen_dtypes],
    "sequence": [gen_sequence],
    "attention": [gen_attention],
    "schedules": [gen_schedulers, gen_train_plateau_warmup],
    "cells": [gen_cells],
    "variants": [gen_variants],
    "seq2seq": [gen_cross_attention, gen_seq2seq],
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    ap.add_argument("--verify", action="store_true",
                    help="only check the existing fixture files in --out")
    ap.add_argument("--check-interop", nargs=2, metavar=("MODEL.safetensors", "IO.json"),
                    help="load MODEL into InteropModel, run it on IO.json's input and "
                         "compare with its output (exit 0 match, 1 mismatch, "
                         "3 torch/safetensors missing)")
    ap.add_argument("--only", metavar="GROUP,...",
                    help="generate only these groups (comma separated): "
                         + ", ".join(GENERATORS))
    args = ap.parse_args(argv)
    groups = list(GENERATORS)
    if args.only is not None:
        groups = [g.strip() for g in args.only.split(",") if g.strip()]
        unknown = [g for g in groups if g not in GENERATORS]
        if unknown or not groups:
            ap.error(f"--only: unknown group(s) {', '.join(unknown) or '(none)'}; "
                     f"choose from {', '.join(GENERATORS)}")
    if args.verify:
        return 0 if verify(args.out) else 1
    if args.check_interop:
        return check_interop(*args.check_interop)
    problem = missing_dependency()
    if problem:
        print(problem)
        return 3
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    os.makedirs(args.out, exist_ok=True)
    for group in GENERATORS:  # fixed order, whatever the order given to --only
        if group in groups:
            for gen in GENERATORS[group]:
                gen(args.out)
    if "interop" in groups:
        # self-test: the check mode accepts the files just written
        rc = check_interop(os.path.join(args.out, "interop_lstm.safetensors"),
                           os.path.join(args.out, "interop_lstm.json"))
        if rc != 0:
            print("self-test of --check-interop FAILED")
            return rc
    if "dtypes" in groups and not self_test_dtypes(args.out):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
