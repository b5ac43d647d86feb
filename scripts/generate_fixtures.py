#!/usr/bin/env python3
"""Generate PyTorch reference fixtures for the RecurrentKit Swift tests.

Usage:
    python3 scripts/generate_fixtures.py [--out DIR] [--verify]

With no arguments every fixture is (re)generated into
``Tests/RecurrentKitTests/Fixtures/`` (located relative to this script's
repository root).  ``--verify`` only re-reads the JSON files already in the
output directory and checks that they are well formed (no regeneration).

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
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

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


# --------------------------------------------------------------------------
# 1. recurrent layers
# --------------------------------------------------------------------------

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def make_rnn(cell, input_size, hidden_size, num_layers):
    kw = dict(num_layers=num_layers, bias=True, batch_first=False, dropout=0.0)
    if cell == "rnn_tanh":
        return nn.RNN(input_size, hidden_size, nonlinearity="tanh", **kw)
    if cell == "rnn_relu":
        return nn.RNN(input_size, hidden_size, nonlinearity="relu", **kw)
    if cell == "lstm":
        return nn.LSTM(input_size, hidden_size, **kw)
    if cell == "gru":
        return nn.GRU(input_size, hidden_size, **kw)
    raise ValueError(cell)


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

                tensors = {}
                for name, p in mod.named_parameters():
                    tensors[name] = p
                tensors["input"] = x
                if given:
                    tensors["h0"] = h0
                    if is_lstm:
                        tensors["c0"] = c0
                tensors["output"] = out
                tensors["h_n"] = h_n
                if is_lstm:
                    tensors["c_n"] = c_n
                tensors["grad_output"] = g_out
                tensors["grad_h_n"] = g_hn
                if is_lstm:
                    tensors["grad_c_n"] = g_cn
                tensors["grad.input"] = x.grad
                if given:
                    tensors["grad.h0"] = h0.grad
                    if is_lstm:
                        tensors["grad.c0"] = c0.grad
                for name, p in mod.named_parameters():
                    tensors["grad." + name] = p.grad

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
# verification
# --------------------------------------------------------------------------

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
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    ap.add_argument("--verify", action="store_true",
                    help="only check the existing fixture files in --out")
    args = ap.parse_args(argv)
    if args.verify:
        return 0 if verify(args.out) else 1
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    os.makedirs(args.out, exist_ok=True)
    gen_recurrent(args.out)
    gen_linear(args.out)
    gen_embedding(args.out)
    gen_losses(args.out)
    gen_train_lstm_adam(args.out)
    gen_train_gru_sgd(args.out)
    gen_train_rnn_adamw(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
