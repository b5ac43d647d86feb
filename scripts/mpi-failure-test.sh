#!/usr/bin/env bash
# A rank that dies mid-training (SIGKILL at step 12) must bring the whole job down within a
# bounded time with a message naming the dead process, not leave the others waiting in
# MPI_Allreduce; rank 0's last checkpoint (step 10, written atomically) must load intact.
set -uo pipefail
bin="$1"
root_flag=""
[ "$(id -u)" -eq 0 ] && root_flag="--allow-run-as-root"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

start=$(date +%s)
timeout 120 mpirun $root_flag --oversubscribe -np 2 "$bin" --die-rank 1 --die-at-step 12 --checkpoint "$dir/ck.safetensors" > "$dir/out.txt" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))
failed=0
if [ "$status" -eq 124 ]; then
    echo "FAIL: the job hung after a rank died (killed by the 120 s timeout)"; failed=1
elif [ "$status" -eq 0 ]; then
    echo "FAIL: the job exited 0 although a rank died"; failed=1
else
    echo "ok: the job ended with status $status after ${elapsed}s; what mpirun said:"
    grep -E "dying at step|signal|exited|terminated|aborted" "$dir/out.txt" | head -5 | sed 's/^/    /'
fi
if "$bin" --verify-checkpoint "$dir/ck.safetensors" 10 | tail -2; then :; else failed=1; fi
[ "$failed" -eq 0 ] && echo "2 passed, 0 failed" || { echo "1 passed, 1 failed"; exit 1; }
