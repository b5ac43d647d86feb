#!/usr/bin/env python3
"""Checks exported ONNX models against RecurrentKit's own outputs.

Usage: onnx_check.py CASE_DIR...

Each CASE_DIR holds model.onnx and case.json:
  {"inputs":  [{"name": ..., "dtype": "float32" | "int32" | "int64", "shape": [...], "file": ...}],
   "outputs": [{"name": ..., "shape": [...], "file": ...}]}
with every tensor as raw little-endian values in its file. For each case the model must pass
onnx.checker.check_model (full check, with shape inference), and ONNX Runtime's CPU execution
provider must give every output within abs 1e-5 + rel 1e-4 of the file's values.
Exits 1 if any case fails, after reporting all of them.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

ABSOLUTE, RELATIVE = 1e-5, 1e-4


def load(case_dir, entry, dtype=None):
    values = np.fromfile(os.path.join(case_dir, entry["file"]), dtype=np.dtype(dtype or entry["dtype"]).newbyteorder("<"))
    return values.reshape(entry["shape"])


def check(case_dir):
    path = os.path.join(case_dir, "model.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    case = json.load(open(os.path.join(case_dir, "case.json")))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feeds = {entry["name"]: load(case_dir, entry) for entry in case["inputs"]}
    names = [entry["name"] for entry in case["outputs"]]
    results = dict(zip(names, session.run(names, feeds)))
    failures = []
    for entry in case["outputs"]:
        expected = load(case_dir, entry, "float32")
        actual = results[entry["name"]]
        if actual.shape != expected.shape:
            failures.append(f"{entry['name']}: shape {list(actual.shape)}, expected {list(expected.shape)}")
            continue
        difference = np.abs(actual - expected)
        bad = difference > ABSOLUTE + RELATIVE * np.abs(expected)
        if bad.any():
            index = int(np.argmax(difference))
            failures.append(f"{entry['name']}: {int(bad.sum())} of {bad.size} values differ, max |difference| "
                            f"{difference.max():.3g} at flat index {index} (ONNX Runtime {actual.flat[index]}, "
                            f"RecurrentKit {expected.flat[index]})")
    return failures


def main():
    failed = 0
    for case_dir in sys.argv[1:]:
        name = os.path.basename(case_dir.rstrip("/"))
        try:
            failures = check(case_dir)
        except Exception as error:  # a checker or runtime error is a failure of this case
            failures = [f"{type(error).__name__}: {error}"]
        if failures:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(failures))
        else:
            print(f"ok   {name}: onnx.checker passes, ONNX Runtime {ort.__version__} matches")
    print(f"{len(sys.argv) - 1 - failed} of {len(sys.argv) - 1} exported models match")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
