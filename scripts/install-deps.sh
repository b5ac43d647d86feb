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

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
