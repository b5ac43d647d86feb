#!/usr/bin/env python3
"""Summarises one device-check.sh run: OUTDIR/summary.json and, on stdout, the Markdown table
(ms per training step of our device backend, PyTorch cuDNN fp32, PyTorch with its TF32 default
and our CPU backend, with the ratios the targets are stated in).

    python3 device-report.py OUTDIR DEVICE

Targets, against PyTorch cuDNN fp32 on the same GPU in the same run (speed = cuDNN ms / ours ms):
small configurations at least 1.0, medium at least 0.8, large at least 0.6; medium and large at
least 10x faster than our CPU backend. A configuration is small at H = 128, medium at H = 256
with B = 64, large at H >= 512; the B = 1 and B = 8 versions of medium have no target.
"""

import json
import os
import re
import sys


def load_bench(path):
    """Measurements of a recurrent-bench --json file, by config text; {} when absent or broken."""
    try:
        with open(path) as f:
            return {r["config"]: r for r in json.load(f)["results"] if r.get("config")}
    except (OSError, ValueError, KeyError):
        return {}


def load_twin(path):
    """PyTorch twin lines by (config, backend)."""
    rows = {}
    try:
        with open(path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                rows[(r["config"], r["backend"])] = r
    except OSError:
        pass
    return rows


def size_class(config):
    cell, t, b, i, h, layers = config.split(":")[:6]
    b, h = int(b), int(h)
    if h >= 512:
        return "large"
    if h == 256 and b == 64:
        return "medium"
    if h == 128:
        return "small"
    return None


TARGETS = {"small": 1.0, "medium": 0.8, "large": 0.6}


def phases(out):
    result = []
    try:
        with open(os.path.join(out, "phases.txt")) as f:
            for line in f:
                name, status, seconds = line.split()
                result.append({"phase": name, "status": status, "seconds": int(seconds)})
    except OSError:
        pass
    return result


def suite(out):
    try:
        with open(os.path.join(out, "suite.txt"), errors="replace") as f:
            text = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
    except OSError:
        return None
    match = re.findall(r"Test run with (\d+) tests?(?: in \d+ suites?)? (passed|failed)[^\n]*", text)
    failures = re.findall(r"✘ Test (\S+)", text)
    return {"tests": int(match[-1][0]) if match else None, "result": match[-1][1] if match else "unfinished",
            "failed_tests": sorted(set(failures))}


def main():
    out, device = sys.argv[1], sys.argv[2]
    ours = {**load_bench(os.path.join(out, "bench-device.json")), **load_bench(os.path.join(out, "bench-device-extra.json"))}
    cpu = {**load_bench(os.path.join(out, "bench-cpu.json")), **load_bench(os.path.join(out, "bench-cpu-extra.json"))}
    if device == "cpu":
        cpu = ours
    twin = {**load_twin(os.path.join(out, "twin-cuda.jsonl")), **load_twin(os.path.join(out, "twin-cpu.jsonl"))}

    rows = []
    for config in sorted(set(ours) | set(cpu) | {c for c, _ in twin}, key=lambda c: [int(x) if x.isdigit() else x for x in c.split(":")]):
        mine, theirs = ours.get(config), twin.get((config, "pytorch-cuda-fp32"))
        tf32, cpu_row = twin.get((config, "pytorch-cuda-tf32-default")), cpu.get(config)
        ms = lambda r: r["step_ms_median"] if r else None
        row = {"config": config, "size": size_class(config),
               "ours_ms": ms(mine), "cudnn_fp32_ms": ms(theirs), "cudnn_tf32_default_ms": ms(tf32), "cpu_ms": ms(cpu_row),
               "pytorch_cpu_ms": ms(twin.get((config, "pytorch")))}
        for key in ("launches_per_step", "launches_per_training_step"):
            if mine and key in mine:
                row["launches_per_step"] = mine[key]
        if row["ours_ms"] and row["cudnn_fp32_ms"]:
            row["speed_vs_cudnn_fp32"] = row["cudnn_fp32_ms"] / row["ours_ms"]
            target = TARGETS.get(row["size"])
            if target is not None:
                row["cudnn_target"] = target
                row["cudnn_target_met"] = row["speed_vs_cudnn_fp32"] >= target
        if row["ours_ms"] and row["cpu_ms"] and device != "cpu":
            row["speed_vs_cpu"] = row["cpu_ms"] / row["ours_ms"]
            if row["size"] in ("medium", "large"):
                row["cpu_target_met"] = row["speed_vs_cpu"] >= 10
        rows.append(row)

    summary = {"device": device, "phases": phases(out), "suite": suite(out), "rows": rows}
    for name in ("devices.txt", "notes.txt"):
        try:
            with open(os.path.join(out, name), errors="replace") as f:
                summary[name.split(".")[0]] = f.read()
        except OSError:
            pass
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    fmt = lambda v, spec="{:.2f}": "—" if v is None else spec.format(v)
    print(f"| config | size | ours {device} ms | cuDNN fp32 ms | cuDNN TF32 default ms | ours CPU ms "
          f"| speed vs cuDNN fp32 (target) | speed vs CPU | launches/step |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        target = f" ({r['cudnn_target']}{' met' if r.get('cudnn_target_met') else ' missed'})" if "cudnn_target" in r else ""
        print(f"| {r['config']} | {r['size'] or ''} | {fmt(r['ours_ms'])} | {fmt(r['cudnn_fp32_ms'])} "
              f"| {fmt(r['cudnn_tf32_default_ms'])} | {fmt(r['cpu_ms'])} | {fmt(r.get('speed_vs_cudnn_fp32'))}{target} "
              f"| {fmt(r.get('speed_vs_cpu'), '{:.1f}x')} | {fmt(r.get('launches_per_step'), '{}')} |")
    s = summary["suite"]
    if s:
        print(f"\nSuite on {device}: {s['tests']} tests, {s['result']}"
              + (f"; failed: {', '.join(s['failed_tests'])}" if s["failed_tests"] else ""))


if __name__ == "__main__":
    main()
