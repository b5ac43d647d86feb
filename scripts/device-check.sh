#!/usr/bin/env bash
# The one-shot device check, run from a folder made by scripts/device-bundle.sh on a machine that
# has no Swift and no network:
#
#   ./device-check.sh [--probe | --tune] [--quick] [--filter REGEX] DEVICE OUTDIR
#
# DEVICE is a RECURRENT_DEVICE name (opencl, opencl:P:D, cpu). Logs and JSON go into OUTDIR:
#   probe.txt, probe.json   machine, driver, where libnvidia-opencl.so* is, the OpenCL devices
#   devices.txt             `recurrent devices`
#   suite.txt, suite.xml    the whole test suite with RECURRENT_DEVICE=DEVICE (xunit from swift-testing)
#   bench-device.json       recurrent-bench on DEVICE: the default grid, then B = 1 and B = 8
#                           versions of LSTM medium and an H = 1024 LSTM (bench-device-extra.json)
#   bench-cpu.json          the same on the CPU backend (bench-cpu-extra.json)
#   twin-cuda.jsonl         the PyTorch twin on CUDA (cuDNN): fp32 (TF32 off) and PyTorch's TF32 default
#   summary.json, table.md  every phase's status and time; ms/step side by side (device-report.py)
#   phases.txt              one line per phase: name, exit status, seconds
# --probe runs only the first step (seconds): do it first on a new machine. --tune runs only
# CLBlast's GEMM tuners on DEVICE for the shapes of LSTM medium's steps (tuning/*.json, minutes);
# RECURRENT_CLBLAST_TUNING=OUTDIR/tuning applies their results to a later run. --quick times one tiny
# configuration and runs part of the suite (CI runs it on PoCL). The whole check keeps to a budget
# of 8 minutes (DEVICE_CHECK_BUDGET seconds): each phase gets at most what is left.
#
# Our binaries see our lib/ first (LD_LIBRARY_PATH is set for them only, never for python3); the
# OpenCL ICD loader reads OCL_ICD_VENDORS, a folder with the machine's own ICD files plus one
# naming libnvidia-opencl.so.1 by its absolute path when the machine has the library but no ICD.
set -uo pipefail

probe_only=false
tune_only=false
quick=false
filter=""
while [ $# -gt 0 ]; do
    case "$1" in
        --probe) probe_only=true ;;
        --tune) tune_only=true ;;
        --quick) quick=true ;;
        --filter) filter="$2"; shift ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        -*) echo "device-check: unknown option '$1' (expected --probe, --tune, --quick, --filter REGEX)" >&2; exit 2 ;;
        *) break ;;
    esac
    shift
done
if [ $# -ne 2 ]; then
    echo "usage: device-check.sh [--probe] [--quick] [--filter REGEX] DEVICE OUTDIR (DEVICE: opencl, opencl:P:D or cpu)" >&2
    exit 2
fi
device=$1
mkdir -p "$2" || { echo "device-check: cannot create OUTDIR '$2'" >&2; exit 2; }
out=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
budget=${DEVICE_CHECK_BUDGET:-480}
deadline=$((SECONDS + budget))
: > "$out/phases.txt"

exec 3>&2   # the check's own messages, whatever a phase's output is redirected to
note() { echo "device-check: $*" | tee -a "$out/notes.txt" >&3; }

# --- Unpack the payload once per payload (a stamp of its size and checksum) ---------------------
[ -f "$here/payload.tar.xz" ] || { echo "device-check: $here/payload.tar.xz is missing: run from a folder made by scripts/device-bundle.sh" >&2; exit 2; }
work=${DEVICE_CHECK_WORK:-${TMPDIR:-/tmp}/recurrentkit-device-$(id -u)}
mkdir -p "$work" && work=$(cd "$work" && pwd) || { echo "device-check: cannot create the work folder '$work'" >&2; exit 2; }
stamp=$(cksum < "$here/payload.tar.xz")
if [ "$(cat "$work/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "${work:?}"/* && mkdir -p "$work"
    if command -v xz >/dev/null; then
        tar -C "$work" -xJf "$here/payload.tar.xz"
    else
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/payload.tar.xz" "$work"
    fi || { echo "device-check: cannot unpack the payload into $work" >&2; exit 1; }
    echo "$stamp" > "$work/.stamp"
fi
bin=$work/bin

# --- Libraries: ours first; our libstdc++ only where the machine's is older than we need ------------
find_system_library() {   # SONAME: its path from the loader's cache, or nothing
    ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n && /x86-64/ { print $NF; exit }'
}
libpath=$work/lib
needed_cxx=$(cat "$work"/lib/*.so* "$bin"/recurrent 2>/dev/null | grep -ao 'GLIBCXX_3\.4\.[0-9]*' | sort -uV | tail -1)
system_cxx=$(find_system_library libstdc++.so.6)
if [ -z "$system_cxx" ] || ! grep -qa "$needed_cxx" "$system_cxx"; then
    libpath=$libpath:$work/lib/fallback
    note "the machine's libstdc++ (${system_cxx:-none}) lacks $needed_cxx: using the bundled one"
fi

# NVIDIA's OpenCL library: the loader's cache, the usual driver folders, then a bounded search.
find_nvidia_opencl() {
    local found
    found=$(find_system_library libnvidia-opencl.so.1)
    [ -n "$found" ] && { echo "$found"; return; }
    for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib \
               /usr/local/cuda/compat /usr/local/cuda/lib64 /run/nvidia/driver/usr/lib/x86_64-linux-gnu; do
        for name in libnvidia-opencl.so.1 libnvidia-opencl.so.*; do
            [ -e "$dir/$name" ] && { echo "$dir/$name"; return; }
        done
    done
    timeout 20 find /usr/local /usr/lib /usr/lib64 /opt /run/nvidia -maxdepth 6 -name 'libnvidia-opencl.so*' 2>/dev/null | sort | head -1
}
nvidia_opencl=$(find_nvidia_opencl)

vendors=$work/vendors
rm -rf "$vendors" && mkdir -p "$vendors"
for icd in /etc/OpenCL/vendors/*.icd; do [ -e "$icd" ] && cp "$icd" "$vendors/"; done
if [ -n "$nvidia_opencl" ]; then
    libpath=$libpath:$(dirname "$nvidia_opencl")
    if ! grep -qs libnvidia-opencl "$vendors"/*.icd; then
        echo "$nvidia_opencl" > "$vendors/nvidia.icd"
        note "no ICD file names NVIDIA's OpenCL: using our own, naming $nvidia_opencl"
    fi
elif ! ls "$vendors"/*.icd >/dev/null 2>&1; then
    cp "$work/icd/nvidia.icd" "$vendors/"
fi
export OCL_ICD_VENDORS=$vendors

# Runs one of our binaries with our libraries.
ours() { LD_LIBRARY_PATH="$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }

# phase NAME CAP COMMAND...: runs COMMAND (a program or one of the functions exported below) with
# at most CAP seconds, and never past the budget; records its status and time in phases.txt.
# Never stops the check.
phase() {
    local name=$1 cap=$2 left status started=$SECONDS
    shift 2
    left=$((deadline - SECONDS))
    [ "$left" -lt "$cap" ] && cap=$left
    if [ "$cap" -le 5 ]; then
        note "$name: skipped, the budget of $budget s is spent"
        echo "$name skipped 0" >> "$out/phases.txt"
        return 0
    fi
    echo "device-check: $name (at most $cap s)" >&3
    timeout --kill-after=10 "$cap" bash -c '"$@"' "$name" "$@"
    status=$?
    [ "$status" -eq 124 ] && note "$name: stopped after $cap s"
    echo "$name $status $((SECONDS - started))" >> "$out/phases.txt"
    return 0
}

# --- Probe ---------------------------------------------------------------------------------------
probe() {
    {
        echo "== date"; date -u
        echo "== machine"; uname -a; nproc; free -g 2>/dev/null | head -2; grep PRETTY_NAME /etc/os-release 2>/dev/null
        echo "== glibc"; getconf GNU_LIBC_VERSION 2>/dev/null || ldd --version 2>&1 | head -1
        echo "== nvidia-smi"
        local smi
        smi=$(command -v nvidia-smi || ls /usr/local/nvidia/bin/nvidia-smi 2>/dev/null)
        if [ -n "$smi" ]; then
            timeout 30 "$smi" 2>&1
            timeout 30 "$smi" --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv 2>&1
        else
            echo "no nvidia-smi on PATH or in /usr/local/nvidia/bin"
        fi
        echo "== libnvidia-opencl.so* (chosen: ${nvidia_opencl:-none})"
        timeout 20 find /usr/local /usr/lib /usr/lib64 /opt /run/nvidia /etc -maxdepth 6 \
            \( -name 'libnvidia-opencl.so*' -o -name 'libcuda.so*' -o -name '*.icd' -o -name 'libOpenCL.so*' \) 2>/dev/null | sort
        echo "== loader cache"; ldconfig -p 2>/dev/null | grep -Ei 'opencl|libcuda' || echo "(nothing)"
        echo "== OCL_ICD_VENDORS=$OCL_ICD_VENDORS"; for f in "$vendors"/*; do echo "$f: $(cat "$f")"; done
        echo "== LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-} (ours: $libpath)"
        echo "== missing libraries of our binaries"
        for b in "$bin"/recurrent "$bin"/recurrent-bench "$bin"/RecurrentKitPackageTests.xctest; do
            ours ldd "$b" | grep "not found" | sed "s|^|$(basename "$b"): |"
        done
        echo "== python3 and torch"
        timeout 90 python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available()); print("cudnn", torch.backends.cudnn.version()); print([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])' 2>&1
        echo "== recurrent devices"
        OCL_ICD_DEBUG=${OCL_ICD_DEBUG:-0} ours timeout 60 "$bin/recurrent" devices 2>&1
        echo "status $?"
    } > "$out/probe.txt" 2>&1
    python3 - "$out/probe.json" "$nvidia_opencl" "$libpath" <<'EOF' || true
import json, sys
json.dump({"nvidia_opencl": sys.argv[2] or None, "library_path": sys.argv[3]}, open(sys.argv[1], "w"), indent=1)
EOF
}
export libpath bin out vendors nvidia_opencl work
export -f ours note probe find_system_library
phase probe 150 probe
if $probe_only; then
    cat "$out/probe.txt"
    exit 0
fi

# --- CLBlast's tuners, for the tuning table (OpenCLTuning.swift) ---------------------------------------
if $tune_only; then
    platform=0 device_index=0
    if [[ $device =~ ^opencl:([0-9]+):([0-9]+)$ ]]; then platform=${BASH_REMATCH[1]}; device_index=${BASH_REMATCH[2]}; fi
    mkdir -p "$out/tuning"
    # LSTM medium (T100 B64 I128 H256): the per-step product (B × 4H × H), the input projection
    # (T·B × 4H × I) and the weight gradient (4H × H × T·B). xgemm wants multiples of 64.
    for shape in "64 1024 256" "6400 1024 128" "1024 256 6400"; do
        read -r m n k <<< "$shape"
        for tuner in clblast_tuner_xgemm clblast_tuner_xgemm_direct; do
            [ -x "$bin/$tuner" ] || continue
            (cd "$out/tuning" && phase "$tuner-$m-$n-$k" 240 ours "$bin/$tuner" -platform "$platform" -device "$device_index" \
                -precision 32 -m "$m" -n "$n" -k "$k" > "$out/tuning/$tuner-$m-$n-$k.txt" 2>&1)
            for result in "$out"/tuning/clblast_*.json; do   # the tuner names its file by kernel only
                [ -e "$result" ] && mv "$result" "$out/tuning/$m-$n-$k-$(basename "$result")"
            done
        done
    done
    cat "$out/phases.txt"
    exit 0
fi

# --- Devices, the whole suite on DEVICE ---------------------------------------------------------------
phase devices 60 ours "$bin/recurrent" devices > "$out/devices.txt" 2>&1

suite_filter=()
if [ -n "$filter" ]; then
    suite_filter=(--filter "$filter")
elif $quick; then
    suite_filter=(--filter "OpParityTests|RankDeviceTests|OpenCLDeviceTests|FlatParameterTests")
fi
run_suite() {   # [--filter REGEX]: XCTest's tests, then swift-testing's, as `swift test` runs them
    ours "$bin/RecurrentKitPackageTests.xctest" 2>&1
    local xctest=$?
    ours "$bin/RecurrentKitPackageTests.xctest" --testing-library swift-testing --xunit-output "$out/suite.xml" "$@" 2>&1
    local testing=$?
    return $((xctest != 0 || testing != 0))
}
export -f run_suite
mkdir -p "$work/scratch"   # the suite's working directory: files tests leave stay out of OUTDIR
(cd "$work/scratch" && export RECURRENT_DEVICE=$device &&
    phase suite "$($quick && echo 120 || echo 240)" run_suite "${suite_filter[@]}" > "$out/suite.txt")

# --- recurrent-bench on DEVICE and on the CPU backend --------------------------------------------------
extra=(--config lstm:100:1:128:256:2 --config lstm:100:8:128:256:2 --config lstm:100:128:512:1024:1)
if $quick; then
    grid=(--config lstm:8:4:8:16:1 --steps 2 --warmup 1 --rounds 1)
    extra=()
else
    grid=(--rounds 1)
fi
bench() {   # NAME BACKEND SECONDS ARGS...
    local name=$1 backend=$2 cap=$3
    shift 3
    phase "$name" "$cap" ours "$bin/recurrent-bench" --backends "$backend" --json "$@" > "$out/$name.json" 2> "$out/$name.log"
}
bench bench-device "$device" 150 "${grid[@]}"
[ ${#extra[@]} -gt 0 ] && bench bench-device-extra "$device" 60 --rounds 1 "${extra[@]}"
if [ "$device" != cpu ]; then
    bench bench-cpu cpu 120 "${grid[@]}" --steps 3 --warmup 1
    [ ${#extra[@]} -gt 0 ] && bench bench-cpu-extra cpu 60 --rounds 1 --steps 3 --warmup 1 "${extra[@]}"
fi

# --- The PyTorch twin on CUDA (the same configurations as the device bench) ----------------------------
twin_configs=()
for f in "$out/bench-device.json" "$out/bench-device-extra.json"; do
    [ -s "$f" ] || continue
    while read -r c; do twin_configs+=(--config "$c"); done < <(python3 -c \
        'import json, sys; [print(r["config"]) for r in json.load(open(sys.argv[1]))["results"] if r.get("config")]' "$f" 2>/dev/null | sort -u)
done
if [ ${#twin_configs[@]} -eq 0 ]; then
    twin_configs=("${extra[@]}")
    $quick && twin_configs=(--config lstm:8:4:8:16:1)
fi
twin_steps=(--steps 10 --warmup 3)
$quick && twin_steps=(--steps 2 --warmup 1)
phase twin-cuda 150 python3 "$here/pytorch_twin.py" --device cuda --precision fp32,default "${twin_steps[@]}" \
    "${twin_configs[@]}" > "$out/twin-cuda.jsonl" 2> "$out/twin-cuda.log"
if grep -q "^twin-cuda 3 " "$out/phases.txt"; then
    note "python3 cannot import torch: the PyTorch twin is skipped and its columns stay empty ($(tail -n 1 "$out/twin-cuda.log"))"
elif grep -q "^twin-cuda 4 " "$out/phases.txt"; then
    note "no CUDA device for PyTorch: the twin's CUDA columns stay empty"
    if $quick; then
        phase twin-cpu 150 python3 "$here/pytorch_twin.py" --device cpu "${twin_steps[@]}" "${twin_configs[@]}" \
            > "$out/twin-cpu.jsonl" 2> "$out/twin-cpu.log"
    fi
fi

# --- Summary -------------------------------------------------------------------------------------------
python3 "$here/device-report.py" "$out" "$device" > "$out/table.md" 2> "$out/report.log" || note "device-report.py failed: $(cat "$out/report.log")"
cat "$out/phases.txt" >&2
cat "$out/table.md" 2>/dev/null
# Exit status: 0 when every phase that ran finished with status 0. The twin counts as skipped when
# python3 has no torch (status 3) or torch sees no CUDA device (status 4): the check is of our
# binaries, and the twin's columns are only there to compare against.
awk '$2 != "0" && $2 != "skipped" && !($1 ~ /^twin-/ && ($2 == "3" || $2 == "4")) { bad = 1 } END { exit bad }' "$out/phases.txt"
