#!/usr/bin/env bash
# Side by side, in one run: the Go model (bf16 and fp32 precision) against
# PyTorch (fp32, and bf16 autocast) on the same model (Llama, 6 layers,
# d=384, 6 heads, vocab 8192, intermediate 1024), on the same number of
# threads: the training step (forward + backward, no activation
# checkpointing) at each T, prefill (score: forward + log-probabilities)
# at each T, and decode (generate: 64 tokens after a 512-token prompt).
# Each line gives wall-clock tokens/s and, where measured, CPU seconds per
# step (less sensitive to other load on a shared machine); ratios are ours
# over PyTorch's, so > 1 means faster. MFU is against the measured peak of
# the precision's instruction (VDPBF16PS for bf16, FMA for fp32): MFU from
# wall time, cpu-MFU from CPU time (model FLOPs per CPU-second over one
# thread's peak).
# PyTorch runs with OMP_WAIT_POLICY=PASSIVE (spinning OpenMP threads would
# count idle waiting as CPU time on a busy machine).
#
# Usage: scripts/model/bench.sh [T list, default "1024 4096"] [threads=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
TS=${1:-1024 4096}
THREADS=${2:-2}
PY=$(bash scripts/pyenv.sh)
echo "load: $(uptime | sed 's/.*load average/load average/')"
gobench() { # pattern benchtime -> benchmark lines
  GOMAXPROCS=$THREADS go test ./model -run '^$' -bench "$1" -benchtime "$2" -cpu "$THREADS" | grep '^Benchmark'
}
metric() { echo "$1" | grep -o "[0-9.e+-]* $2" | head -1 | awk '{print $1}'; }
torch() { OMP_WAIT_POLICY=PASSIVE "$PY" scripts/model/bench_torch.py --threads "$THREADS" "$@"; }
tfield() { echo "$1" | grep -o "$2 [0-9.]*" | awk '{print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
inv() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else printf "n/a" }'; }

for T in $TS; do
  steps=3; [ "$T" -ge 4096 ] && steps=1
  echo "== train step, T=$T, threads=$THREADS"
  declare -A tps cpu
  for p in bf16 fp32; do
    line=$(gobench "TrainStep/T=$T/ckpt=false/$p\$" ${steps}x)
    echo "$line"
    tps[go$p]=$(metric "$line" tokens/s); cpu[go$p]=$(metric "$line" cpu-s/op)
  done
  for p in fp32 bf16; do
    line=$(torch --mode train --dtype $p --T "$T" --steps "$steps")
    echo "$line"
    tps[pt$p]=$(tfield "$line" tokens/s); cpu[pt$p]=$(tfield "$line" cpu-s/step)
  done
  for o in bf16 fp32; do for t in bf16 fp32; do
    echo "ratio ours $o / torch $t: wall $(ratio "${tps[go$o]}" "${tps[pt$t]}")x, CPU time $(inv "${cpu[go$o]}" "${cpu[pt$t]}")x"
  done; done
  echo "== prefill (score), T=$T"
  line=$(gobench "Prefill/T=$T/bf16\$" ${steps}x); echo "$line"
  ours=$(metric "$line" tokens/s); ocpu=$(metric "$line" cpu-s/op)
  line=$(torch --mode prefill --dtype bf16 --T "$T" --steps "$steps"); echo "$line"
  echo "ratio ours bf16 / torch bf16: wall $(ratio "$ours" "$(tfield "$line" tokens/s)")x, CPU time $(inv "$ocpu" "$(tfield "$line" cpu-s/step)")x"
done
echo "== decode (generate), 512-token prompt + 64 new tokens"
line=$(gobench "Decode/prompt=512/new=64/bf16\$" 2x); echo "$line"
ours=$(metric "$line" tokens/s)
line=$(torch --mode decode --dtype bf16 --steps 2); echo "$line"
echo "ratio ours bf16 / torch bf16 (decode tokens/s, wall): $(ratio "$ours" "$(tfield "$line" tokens/s)")x"
echo "load: $(uptime | sed 's/.*load average/load average/')"
