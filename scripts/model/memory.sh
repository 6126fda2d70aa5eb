#!/usr/bin/env bash
# Peak memory of one checkpointed training step of the benchmark model
# (model.TestLongStepMemory) at T tokens, fp32 and bf16, each in its own
# process so that the peaks (MemStats.Sys, VmHWM) do not mix.
# Usage: scripts/model/memory.sh [T=16384]
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-16384}
echo "load: $(uptime | sed 's/.*load average/load average/')"
for p in fp32 bf16; do
  LONGRECIPE_MEMORY_T=$T LONGRECIPE_MEMORY_PRECISION=$p go test ./model -count=1 -run '^TestLongStepMemory$' -v -timeout 60m | grep -E 'T=|ok|FAIL'
done
