#!/usr/bin/env python3
"""PyTorch twin of `recurrent-bench`: times full RNN/LSTM/GRU training steps on CPU or CUDA.

Each config runs the same training step as the Swift benchmark:

    model = nn.LSTM / nn.GRU / nn.RNN(nonlinearity='tanh')
            (input_size=I, hidden_size=H, num_layers=L, batch_first=False,
             dropout=0, bias=True), float32, CPU
    x = torch.randn(T, B, I); target = torch.randn(T, B, H)   (fixed, seeded, made once)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)       (PyTorch defaults otherwise)
    step: opt.zero_grad(); out, _ = model(x); loss = F.mse_loss(out, target);
          loss.backward(); opt.step()

Timing: `--warmup W` untimed steps, then `--steps N` steps each timed individually with
time.perf_counter (CPU PyTorch is synchronous, so the work is done when step() returns;
loss.item() is not called inside the timed region). Median, min and max are reported in ms.

CUDA (`--device cuda`, cuDNN's RNN kernels): the model, x and target live on the GPU and
torch.cuda.synchronize() is called before and after each timed step. Each config runs once per
`--precision`: `fp32` sets torch.backends.cudnn.allow_tf32 = False and
torch.backends.cuda.matmul.allow_tf32 = False (full fp32, the comparison for our fp32 kernels);
`default` keeps PyTorch's defaults (cuDNN may use TF32 tensor cores). Without a usable CUDA
device the twin says so on stderr and exits with status 4. `peak_mem_mb` is then
torch.cuda.max_memory_allocated() over the run.

Variants (`lstm+rdrop:...`, `gru+zoneout:...`, `...+wdrop`, `gru+resetbefore:...`, `...+layernorm`): the same
step, but the model is the variant written as users must write it in PyTorch today, a Python loop
over nn.LSTMCell / nn.GRUCell steps with the masks as tensors (variant_eager.py), masks drawn in
every step; layer norm as custom_lstms.py's LayerNormLSTMCell loop. Before timing, the parent
checks that loop against scripts/variant_fixtures.py (masked_stack, or its layer-norm cells), the
code the PyTorch-parity tests' fixtures come from (JSON "agrees").

GFLOP/s counts GEMM flops only, with the same formula as the Swift side: for layer l with
input size I_l (I for l = 0, H otherwise) and G gates (LSTM 4, GRU 3, RNN 1),
forward = 2*T*B*G*H*(I_l + H); a training step = 3 * forward, less the layer-0 input gradient
2*T*B*G*H*I, which the input does not need (it does not require grad; the Swift step skips it). gflops = flops / median_s / 1e9.

Memory: every config runs in a fresh child process (this script re-invoked with --child).
`peak_mem_mb` is the process peak RSS growth while building and training the model:
(VmHWM, the peak resident set, after the timed steps) - (current RSS after importing torch and creating x and
target), in MiB. Before the baseline is read, a throwaway Adam over a 1-element tensor is built
and dropped: the first optimizer construction lazily imports torch._dynamo (sympy, mpmath, ...),
~150 MiB of import cost that would otherwise swamp small models. Code pages of libtorch touched
for the first time by the model's kernels (~15-20 MiB) are still counted.

Output: one JSON object per config (and precision) per line on stdout; progress and notes go
to stderr. Exit status 3 if torch cannot be imported, 4 if CUDA is asked for and unavailable.

Examples:
    python3 Benchmarks/pytorch_twin.py                      # default grid
    python3 Benchmarks/pytorch_twin.py --quick              # default grid, 3 steps, 1 warmup
    python3 Benchmarks/pytorch_twin.py --config lstm:100:64:128:256:2 --steps 10
    python3 Benchmarks/pytorch_twin.py --device cuda --precision fp32,default
    python3 Benchmarks/pytorch_twin.py --config lstm+zoneout:100:64:128:256:1 --steps 5
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CELLS = {"lstm": 4, "gru": 3, "rnn_tanh": 1}
VARIANTS = ("rdrop", "zoneout", "wdrop", "resetbefore", "layernorm", "lnzoneout")   # variant_eager.VARIANTS, LSTM and GRU (resetbefore: GRU; lnzoneout: LSTM)

DEFAULT_GRID = [
    ("lstm", 50, 32, 32, 128, 1),
    ("lstm", 100, 64, 128, 256, 2),
    ("lstm", 100, 128, 512, 512, 1),
    ("gru", 50, 32, 32, 128, 1),
    ("gru", 100, 64, 128, 256, 2),
    ("gru", 100, 128, 512, 512, 1),
    ("rnn_tanh", 100, 64, 128, 256, 2),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def import_torch():
    try:
        import torch  # noqa: F401
    except ImportError as e:
        log(f"pytorch_twin: cannot import torch ({e}); pip install torch")
        sys.exit(3)
    return torch


def parse_config(text):
    parts = text.split(":")
    if len(parts) not in (6, 7):
        raise argparse.ArgumentTypeError(
            f"config '{text}' must be CELL:T:B:I:H:L[:MIN] (e.g. lstm:100:64:128:256:2)")
    cell, _, variant = parts[0].lower().partition("+")
    if cell not in CELLS:
        raise argparse.ArgumentTypeError(
            f"unknown cell '{parts[0]}' (expected one of {', '.join(CELLS)}, optionally +VARIANT)")
    if variant and (variant not in VARIANTS or cell not in ("lstm", "gru") or (variant == "resetbefore" and cell != "gru")
                    or (variant == "lnzoneout" and cell != "lstm")):
        raise argparse.ArgumentTypeError(
            f"config '{text}': variant '{variant}' must be one of {', '.join(VARIANTS)}, on lstm or gru (resetbefore: gru; "
            "lnzoneout: lstm)")
    if variant and len(parts) == 7:
        raise argparse.ArgumentTypeError(f"config '{text}': variants run on full-length sequences (no MIN)")
    cell = parts[0].lower()
    try:
        dims = tuple(int(p) for p in parts[1:])
    except ValueError:
        raise argparse.ArgumentTypeError(f"config '{text}': T, B, I, H, L must be integers")
    if any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"config '{text}': T, B, I, H, L must be positive")
    if len(dims) == 6 and dims[5] > dims[0]:
        raise argparse.ArgumentTypeError(f"config '{text}': MIN must be at most T")
    return (cell,) + dims


def config_str(cfg):
    return ":".join(str(c) for c in cfg)


def step_flops(cell, T, B, I, H, L):
    G = CELLS[cell.partition("+")[0]]
    total = 0
    for layer in range(L):
        in_size = I if layer == 0 else H
        total += 3 * (2 * T * B * G * H * (in_size + H))
    # The input does not require grad: the layer-0 input gradient dX = dG W_ih is not needed.
    return total - 2 * T * B * G * H * I


def current_rss_bytes():
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    # VmHWM, the address space's high-water mark, starts afresh at exec; ru_maxrss would not
    # (Linux keeps the larger of the parent's and the child's), so it could report the parent's.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(args):
    torch = import_torch()
    import torch.nn as nn
    import torch.nn.functional as F

    cell, T, B, I, H, L = args.config[0][:6]
    base_cell, _, variant = cell.partition("+")
    # Variable lengths (MIN given): lengths uniform in MIN..T, run as a PackedSequence.
    min_length = args.config[0][6] if len(args.config[0]) > 6 else None

    try:
        torch.set_num_interop_threads(1)
    except RuntimeError as e:
        log(f"note: set_num_interop_threads(1) not allowed: {e}")
    torch.set_num_threads(args.threads)

    cuda = args.device == "cuda"
    if cuda:
        torch.backends.cudnn.enabled = True
        if args.precision == "fp32":
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
    device = torch.device(args.device)

    def synchronize():
        if cuda:
            torch.cuda.synchronize()

    torch.manual_seed(args.seed)
    x = torch.randn(T, B, I, dtype=torch.float32).to(device)
    target = torch.randn(T, B, H, dtype=torch.float32).to(device)

    # Constructing the first torch.optim optimizer lazily imports torch._dynamo (and with it
    # sympy, mpmath, ...): ~150 MiB of RSS that is Python import cost, not model memory.
    # Trigger those imports with a throwaway optimizer so they land in the baseline.
    _warm_opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    del _warm_opt

    baseline = current_rss_bytes()

    common = dict(input_size=I, hidden_size=H, num_layers=L, batch_first=False,
                  dropout=0.0, bias=True)
    if variant in ("layernorm", "lnzoneout"):
        from variant_eager import LayerNormStack
        model = LayerNormStack(base_cell, I, H, L)
    elif base_cell == "lstm":
        model = nn.LSTM(**common)
    elif base_cell == "gru":
        model = nn.GRU(**common)
    else:
        model = nn.RNN(nonlinearity="tanh", **common)
    model = model.to(device=device, dtype=torch.float32)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    lengths = None
    if min_length is not None:
        gen = torch.Generator().manual_seed(args.seed + 1)
        lengths = torch.randint(min_length, T + 1, (B,), generator=gen)   # stays on the CPU, as pack_padded_sequence wants

    if variant:
        from variant_eager import draw_masks, eager_stack, layer_norm_stack

    def step():
        opt.zero_grad()
        if variant in ("layernorm", "lnzoneout"):
            out = layer_norm_stack(model, x, draw_masks(base_cell, variant, T, B, H, L))
        elif variant:
            # The variant as users write it: masks drawn, then the Python loop over the cell steps.
            out = eager_stack(model, base_cell, x, draw_masks(base_cell, variant, T, B, H, L), variant == "resetbefore")
        elif lengths is None:
            out, _ = model(x)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
            out, _ = nn.utils.rnn.pad_packed_sequence(model(packed)[0], total_length=T)
        loss = F.mse_loss(out, target)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    synchronize()
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    times = []
    loss = None
    for _ in range(args.steps):
        synchronize()
        t0 = time.perf_counter()
        loss = step()
        synchronize()
        times.append(time.perf_counter() - t0)

    peak = peak_rss_bytes()
    log(f"pytorch_twin:   {cell}:{T}:{B}:{I}:{H}:{L} {args.device} {args.precision} step ms: "
        + " ".join(f"{t * 1e3:.1f}" for t in times))
    if loss is not None and not torch.isfinite(loss).item():
        log(f"warning: non-finite loss for {cell}:{T}:{B}:{I}:{H}:{L}")

    median_s = statistics.median(times)
    flops = step_flops(cell, T, B, I, H, L)
    if lengths is not None:
        flops *= float(lengths.sum()) / (T * B)
    result = {
        "config": config_str(args.config[0]),
        "cell": cell,
        "variant": variant or "plain",
        "T": T,
        "B": B,
        "I": I,
        "H": H,
        "layers": L,
        "backend": "pytorch",
        "step_ms_median": median_s * 1e3,
        "step_ms_min": min(times) * 1e3,
        "step_ms_max": max(times) * 1e3,
        "gflops": flops / median_s / 1e9,
        "peak_mem_mb": (torch.cuda.max_memory_allocated() if cuda else peak - baseline) / 2**20,
        "sequences_per_s": B / median_s,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "mkldnn": bool(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled),
        "device": args.device,
    }
    if cuda:
        result.update({
            "backend": "pytorch-cuda-" + ("fp32" if args.precision == "fp32" else "tf32-default"),
            "precision": args.precision,
            "cudnn_version": torch.backends.cudnn.version(),
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "gpu_name": torch.cuda.get_device_name(device),
        })
    print(json.dumps(result), flush=True)


def run_parent(args):
    torch = import_torch()  # fail early (exit 3) if torch is missing
    if args.device == "cuda" and not torch.cuda.is_available():
        log("pytorch_twin: notice: --device cuda asked for, but torch.cuda.is_available() is False "
            f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}); skipping the CUDA twin")
        sys.exit(4)
    configs = args.config if args.config else list(DEFAULT_GRID)
    precisions = args.precision.split(",") if args.device == "cuda" else ["fp32"]
    failures = 0
    # Agreement first: each variant's eager loop against the stack the parity tests use.
    agreement = {}
    for cfg in configs:
        base_cell, _, variant = cfg[0].partition("+")
        if variant and cfg[0] not in agreement:
            from variant_eager import check_against_fixture_stack
            worst = check_against_fixture_stack(base_cell, variant)
            agreement[cfg[0]] = worst <= 1
            against = ("variant_fixtures' layer-norm cells" if variant in ("layernorm", "lnzoneout")
                       else "variant_fixtures.masked_stack")
            log(f"pytorch_twin: {cfg[0]} eager loop vs {against}: "
                f"{'agrees' if worst <= 1 else 'DISAGREES'} (worst {worst:.2g} of the tolerance 1e-5 + 1e-4 max|e|)")
    for cfg, precision in ((c, p) for c in configs for p in precisions):
        cmd = [sys.executable, os.path.abspath(__file__), "--child",
               "--config", config_str(cfg),
               "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--threads", str(args.threads), "--seed", str(args.seed),
               "--device", args.device, "--precision", precision]
        log(f"pytorch_twin: {config_str(cfg)} on {args.device} {precision} (warmup {args.warmup}, "
            f"steps {args.steps}, threads {args.threads})")
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        result = None
        if proc.returncode == 0 and lines:
            try:
                result = json.loads(lines[-1])
            except json.JSONDecodeError:
                result = None
        if cfg[0] in agreement:
            result = result and dict(result, agrees=agreement[cfg[0]])
        if result is None:
            failures += 1
            log(f"pytorch_twin: config {config_str(cfg)} failed "
                f"(child exit status {proc.returncode})")
            if proc.returncode == 3:
                sys.exit(3)
            continue
        print(json.dumps(result), flush=True)
    return 1 if failures else 0


def main(argv=None):
    p = argparse.ArgumentParser(
        description="PyTorch twin of recurrent-bench: times RNN/LSTM/GRU training steps.")
    p.add_argument("--config", action="append", type=parse_config, metavar="CELL:T:B:I:H:L",
                   help="config to run (repeatable); cell is lstm, gru or rnn_tanh")
    p.add_argument("--grid", choices=["default"], default="default",
                   help="grid to run when no --config is given (default: default)")
    p.add_argument("--quick", action="store_true",
                   help="same grid, but --steps 3 --warmup 1")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps (default 3)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="torch.set_num_threads (default: os.cpu_count())")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed (default 0)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where the model runs (default cpu; cuda uses cuDNN)")
    p.add_argument("--precision", default="fp32",
                   help="on cuda, comma-separated: fp32 (TF32 off) and/or default (PyTorch's TF32 "
                        "defaults); default fp32")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.steps is None:
        args.steps = 3 if args.quick else 10
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    if args.steps < 1:
        p.error("--steps must be >= 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    if args.threads < 1:
        p.error("--threads must be >= 1")
    precisions = args.precision.split(",")
    if not precisions or any(x not in ("fp32", "default") for x in precisions):
        p.error(f"--precision must list fp32 and/or default, got '{args.precision}'")
    if args.child and len(precisions) != 1:
        p.error("--child needs exactly one --precision")

    if args.child:
        if not args.config or len(args.config) != 1:
            p.error("--child needs exactly one --config")
        run_child(args)
        return 0
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
