#!/usr/bin/env bash
# Runs exported GGUF files through llama.cpp and compares its per-token
# log-probabilities with `longrecipe score --precision fp32` on the folder
# the file came from. Not part of `make test`: it builds llama.cpp from
# source (scripts/llamacpp.sh, 15+ minutes on two cores) and scores long
# prompts on the CPU.
#
#   bash scripts/llamacpp-check.sh            # prints a Markdown table
#
# Models (built or fetched into the cache on first use, never the clone):
#   quickstart  the merged model of `longrecipe quickstart` (base window
#               256, extended 8× to 2048): prompts of 1×, 2×, 4× and 8× 256
#   smollm2-theta  SmolLM2-135M-Instruct (scripts/smollm2.sh, f32) with
#               rope_theta ×4 and max_position_embeddings ×4, so a file that
#               dropped the raised θ would show at once; prompt lengths
#               $SMOL_LENGTHS (default 512,2048: its original window is 8192
#               and a 32k-token prompt is hours of CPU time here)
# Each is exported as f32, q8_0, q6_k and q4_k.
# Cache: $LONGRECIPE_CACHE (default ~/.cache/longrecipe)/llamacpp-check/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${LONGRECIPE_CACHE:-$HOME/.cache/longrecipe}/llamacpp-check"
mkdir -p "$cache"
lpy=$(bash "$root/scripts/llamacpp.sh")
bin="$cache/longrecipe"
(cd "$root" && go build -o "$bin" ./cmd/longrecipe)
qs="$cache/quickstart"
final=$(ls -d "$qs"/run/*-merge 2>/dev/null | tail -1 || true)
if [ -z "$final" ] || [ ! -f "$final/config.json" ]; then
  echo "llamacpp-check: running longrecipe quickstart into $qs" >&2
  nice "$bin" quickstart --output "$qs" >&2
  final=$(ls -d "$qs"/run/*-merge | tail -1)
fi
smol=$(LONGRECIPE_BIN="$bin" bash "$root/scripts/smollm2.sh" --dtype f32)
raised="$cache/smollm2-theta"
if [ ! -f "$raised/config.json" ]; then
  rm -rf "$raised.tmp" && cp -r "$smol" "$raised.tmp"
  "$lpy" - "$raised.tmp/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["rope_theta"] *= 4
c["max_position_embeddings"] *= 4
json.dump(c, open(p, "w"), indent=1)
PY
  mv "$raised.tmp" "$raised"
fi
nice "$lpy" "$root/scripts/llamacpp_check.py" "$bin" "$cache/work" \
  "quickstart=$final:256,512,1024,2048" "smollm2-theta=$raised:${SMOL_LENGTHS:-512,2048}"
