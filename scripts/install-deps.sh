#!/usr/bin/env bash
# Installs the Debian packages RecurrentKit builds and tests with, skipping those already
# present (safe to run again). Needs root or sudo when something is missing.
set -euo pipefail

packages=(
    libopenblas-dev      # CBLAS (the CPU backend's GEMM)
    ocl-icd-opencl-dev   # OpenCL ICD loader
    opencl-headers
    libclblast-dev       # GEMM on OpenCL devices
    clblast-utils        # CLBlast's GEMM tuners, carried by scripts/device-bundle.sh
    pocl-opencl-icd      # an OpenCL device on the CPU, for tests
    clinfo
    libopenmpi-dev       # MPI for RecurrentDistributed (data-parallel training)
    openmpi-bin          # mpirun
    pkg-config           # finds Open MPI's headers and libraries
    binutils             # strip, for scripts/device-bundle.sh
    xz-utils             # xz, for scripts/device-bundle.sh
)

# With python3 present: the ONNX Runtime check of exported models (and recurrent-bench --inference)
# runs onnx and onnxruntime from PyPI in a virtual environment at .venv in the repository; the
# TensorBoard check reads our event files with the tensorboard package's EventAccumulator.
python_packages=(onnx==1.23.2 onnxruntime==1.31.1 numpy==2.4.6 tensorboard==2.21.0)
cd "$(dirname "$0")/.."
if command -v python3 >/dev/null && ! python3 -m venv --help >/dev/null 2>&1; then
    packages+=(python3-venv)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
else
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    echo "install-deps: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v python3 >/dev/null; then
    echo "install-deps: python3 not found: the ONNX Runtime and TensorBoard checks will be skipped"
elif .venv/bin/python -c "import onnx, onnxruntime, numpy, tensorboard" 2>/dev/null; then
    echo "install-deps: .venv has ${python_packages[*]}"
else
    echo "install-deps: installing ${python_packages[*]} into .venv"
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "${python_packages[@]}"
fi
