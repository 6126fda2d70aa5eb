#!/usr/bin/env bash
# Short fuzz runs of every target in scripts/fuzz-targets.txt (package,
# target and execution budget per line), bounded by executions, not wall
# time: a wall-clock -fuzztime races the fuzz coordinator's deadline and
# fails with "context deadline exceeded" on a busy machine (Go issue
# 75804), while a count only runs slower. FUZZCOUNT overrides every
# budget (e.g. FUZZCOUNT=100000 for a longer local session); FUZZTIME=10s
# brings back wall-time runs for exploring by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
while read -r pkg target count; do
  [ -z "$pkg" ] && continue
  case "$pkg" in \#*) continue;; esac
  t=${FUZZTIME:-${FUZZCOUNT:-${count:-2000}}x}
  echo "fuzz $pkg $target (-fuzztime=$t)"
  go test -run='^$' -fuzz="^${target}\$" -fuzztime="$t" -parallel="${FUZZPARALLEL:-2}" "$pkg"
done < scripts/fuzz-targets.txt
