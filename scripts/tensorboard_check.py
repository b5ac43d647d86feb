#!/usr/bin/env python3
"""Reads RecurrentKit's TensorBoard event files with TensorBoard's own EventAccumulator and
compares them with what the Swift test expected.

    python3 scripts/tensorboard_check.py EVENT_DIR EXPECTED.json

EXPECTED.json: {"scalars": {tag: [[step, value], ...]}, "histograms": {tag: [[step, num, min,
max, sum], ...]}}. Values match within abs 1e-5 + rel 1e-4 (floats are stored as float32).
Exit status: 0 all match, 1 a mismatch (printed), 3 the tensorboard package is missing.
"""
import json
import sys


def close(a, b):
    return abs(a - b) <= 1e-5 + 1e-4 * abs(b)


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError as exc:
        print(f"cannot import tensorboard ({exc}); pip install tensorboard")
        return 3
    with open(argv[2]) as f:
        expected = json.load(f)
    acc = EventAccumulator(argv[1], size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    problems = []
    for tag, points in expected.get("scalars", {}).items():
        if tag not in tags["scalars"]:
            problems.append(f"scalar {tag} missing (has {sorted(tags['scalars'])})")
            continue
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        if len(got) != len(points):
            problems.append(f"scalar {tag}: {len(got)} points, expected {len(points)}")
        for (step, value), (s, v) in zip(got, points):
            if step != s or not close(value, v):
                problems.append(f"scalar {tag}: ({step}, {value}) expected ({s}, {v})")
    for tag, points in expected.get("histograms", {}).items():
        if tag not in tags["histograms"]:
            problems.append(f"histogram {tag} missing (has {sorted(tags['histograms'])[:5]} ...)")
            continue
        got = acc.Histograms(tag)
        if len(got) != len(points):
            problems.append(f"histogram {tag}: {len(got)} entries, expected {len(points)}")
        for event, (s, num, lo, hi, total) in zip(got, points):
            h = event.histogram_value
            if event.step != s or h.num != num or not all(close(a, b) for a, b in [(h.min, lo), (h.max, hi), (h.sum, total)]):
                problems.append(f"histogram {tag} at step {event.step}: num {h.num} min {h.min} max {h.max} sum {h.sum}, "
                                f"expected step {s}: {num} {lo} {hi} {total}")
            if sum(h.bucket) != h.num:
                problems.append(f"histogram {tag} at step {event.step}: bucket counts sum to {sum(h.bucket)}, not {h.num}")
    for p in problems[:20]:
        print(p)
    n = sum(len(v) for v in expected.get("scalars", {}).values()) + sum(len(v) for v in expected.get("histograms", {}).values())
    print(f"tensorboard_check: {n} values compared, {len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
