#!/usr/bin/env python3
"""Forward-only timings for recurrent-bench --inference: PyTorch eager or ONNX Runtime.

  inference_twin.py --engine torch --threads N --stream H [--stream H ...] --throughput T:B:H [...]
  inference_twin.py --engine onnxruntime --threads N --stream H:MODEL.onnx --throughput T:B:H:MODEL.onnx

Streaming: a 1-layer LSTM (input size = hidden size H) fed one step at a time at batch 1, the
states carried between steps (PyTorch: nn.LSTM on (1, 1, H) under torch.inference_mode; ONNX
Runtime: the exported model with inputs input, h0, c0 and outputs output, h_n, c_n, fed back).
Reports the median microseconds per step. Throughput: one pass over (T, B, H); median ms per pass.
One JSON line per measurement.
"""
import argparse
import json
import time

import numpy as np


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def time_steps(step, warmup, steps):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter_ns()
        step()
        times.append((time.perf_counter_ns() - start) / 1e3)
    return median(times), min(times)


def torch_engine(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with torch.inference_mode():
        for h in args.stream:
            lstm = torch.nn.LSTM(int(h), int(h)).eval()
            xs = torch.randn(args.steps + args.warmup, 1, 1, int(h))
            state = [(torch.zeros(1, 1, int(h)), torch.zeros(1, 1, int(h)))]
            position = [0]

            def step():
                y, state[0] = lstm(xs[position[0] % len(xs)], state[0])
                position[0] += 1

            med, best = time_steps(step, args.warmup, args.steps)
            print(json.dumps({"engine": "pytorch", "threads": args.threads, "mode": "stream", "H": int(h),
                              "us_per_step_median": med, "us_per_step_min": best}), flush=True)
        for config in args.throughput:
            t, b, h = map(int, config.split(":")[:3])
            lstm = torch.nn.LSTM(h, h).eval()
            x = torch.randn(t, b, h)
            med, best = time_steps(lambda: lstm(x), args.pass_warmup, args.passes)
            print(json.dumps({"engine": "pytorch", "threads": args.threads, "mode": "throughput", "T": t, "B": b, "H": h,
                              "ms_per_pass_median": med / 1e3, "ms_per_pass_min": best / 1e3}), flush=True)


def onnxruntime_engine(args):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    rng = np.random.default_rng(0)
    for spec in args.stream:
        h, path = spec.split(":", 1)
        h = int(h)
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        xs = rng.standard_normal((args.steps + args.warmup, 1, 1, h), dtype=np.float32)
        feeds = {"input": xs[0], "h0": np.zeros((1, 1, h), np.float32), "c0": np.zeros((1, 1, h), np.float32)}
        position = [0]

        def step():
            feeds["input"] = xs[position[0] % len(xs)]
            _, feeds["h0"], feeds["c0"] = session.run(["output", "h_n", "c_n"], feeds)
            position[0] += 1

        med, best = time_steps(step, args.warmup, args.steps)
        print(json.dumps({"engine": "onnxruntime", "threads": args.threads, "mode": "stream", "H": h,
                          "us_per_step_median": med, "us_per_step_min": best}), flush=True)
    for spec in args.throughput:
        t, b, h, path = spec.split(":", 3)
        t, b, h = int(t), int(b), int(h)
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        x = rng.standard_normal((t, b, h), dtype=np.float32)
        med, best = time_steps(lambda: session.run(["output"], {"input": x}), args.pass_warmup, args.passes)
        print(json.dumps({"engine": "onnxruntime", "threads": args.threads, "mode": "throughput", "T": t, "B": b, "H": h,
                          "ms_per_pass_median": med / 1e3, "ms_per_pass_min": best / 1e3}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["torch", "onnxruntime"], required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stream", action="append", default=[])
    parser.add_argument("--throughput", action="append", default=[])
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--pass-warmup", type=int, default=1)
    args = parser.parse_args()
    (torch_engine if args.engine == "torch" else onnxruntime_engine)(args)


if __name__ == "__main__":
    main()
