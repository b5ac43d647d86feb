#!/usr/bin/env bash
# Scaling of data-parallel training on this machine: the same global batch (LSTM T50 B64 I32
# H128) on 1 rank and on 2 ranks, the CPU backend limited to one thread per rank
# (RECURRENT_THREADS=1) so that the ranks use the cores; plus 1 rank using every core itself
# (--bind-to none: mpirun binds each rank to one core by default, which would confine its threads).
# Efficiency = t(1 rank, 1 thread) / (2 × t(2 ranks)). On a 2-core machine two ranks already use
# every core: this measures the overhead of data parallelism, not a speed-up over all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-30}
root_flag=""
[ "$(id -u)" -eq 0 ] && root_flag="--allow-run-as-root"
swift build -c release --product distributed-check >/dev/null
bin="$(swift build -c release --show-bin-path)/distributed-check"
cores=$(nproc)
one=$(RECURRENT_THREADS=1 mpirun $root_flag -np 1 "$bin" --benchmark "$steps" | awk '{print $3}')
all=$(RECURRENT_THREADS=$cores mpirun $root_flag --bind-to none -np 1 "$bin" --benchmark "$steps" | awk '{print $3}')
two=$(RECURRENT_THREADS=1 mpirun $root_flag --oversubscribe -np 2 "$bin" --benchmark "$steps" | awk '{print $3}')
echo "machine: $cores cores; $steps timed steps of the whole global batch (64 sequences)"
echo "1 rank, 1 thread:         $one ms/step"
echo "1 rank, $cores threads:        $all ms/step"
echo "2 ranks, 1 thread each:   $two ms/step"
awk -v a="$one" -v b="$two" -v c="$all" 'BEGIN { printf "speed-up 2 ranks vs 1: %.2fx, efficiency %.0f%%; vs 1 rank on all cores: %.2fx\n", a/b, 100*a/(2*b), c/b }'
