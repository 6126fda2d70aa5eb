#!/usr/bin/env bash
# Side-by-side training-step speed of the Go model and PyTorch (CPU fp32) on
# the same model (Llama, 6 layers, d=384, 6 heads, vocab 8192, intermediate
# 1024) and sequence length, both on the same number of threads.
# Usage: scripts/model/bench.sh [T=1024] [threads=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-1024}
THREADS=${2:-2}
steps=3
[ "$T" -ge 4096 ] && steps=1
go_out=$(GOMAXPROCS=$THREADS go test ./model -run '^$' -bench "TrainStep/T=$T/ckpt=false\$" -benchtime ${steps}x -cpu "$THREADS")
echo "$go_out" | grep Benchmark
ours=$(echo "$go_out" | grep Benchmark | grep -o '[0-9.]* tokens/s' | awk '{print $1}')
mfu=$(echo "$go_out" | grep Benchmark | grep -o '[0-9.]* MFU' | awk '{print $1}')
ocpu=$(echo "$go_out" | grep Benchmark | grep -o '[0-9.]* cpu-s/op' | awk '{print $1}')
torch_out=$(/usr/bin/python3 scripts/model/bench_torch.py --T "$T" --steps "$steps" --threads "$THREADS")
echo "$torch_out"
theirs=$(echo "$torch_out" | grep -o 'tokens/s [0-9.]*' | awk '{print $2}')
tcpu=$(echo "$torch_out" | grep -o 'cpu-s/step [0-9.]*' | awk '{print $2}')
awk -v o="$ours" -v t="$theirs" -v m="$mfu" -v T="$T" -v th="$THREADS" -v oc="$ocpu" -v tc="$tcpu" 'BEGIN {
  printf "T=%d threads=%d: longrecipe %.1f tokens/s, torch %.1f tokens/s, ratio %.2fx (wall time), MFU %.2f (vs measured kernels.Sgemm rate)\n", T, th, o, t, o/t, m
  printf "CPU time per step: longrecipe %.2f s, torch %.2f s, ratio %.2fx (less sensitive to other load on the machine)\n", oc, tc, tc/oc }'
