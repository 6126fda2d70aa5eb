#!/usr/bin/env bash
# Regenerates tokenizer/bpetrain/testdata/hf_*.json with Hugging Face
# tokenizers (npm "tokenizers" 0.23.2, installed in a scratch folder).
# Rerun after assets/tokenizer.json changes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
scratch=${TOK_NODE_DIR:-/tmp/tok-node-assets}
if [ ! -d "$scratch/node_modules/tokenizers" ]; then
  mkdir -p "$scratch"
  (cd "$scratch" && npm init -y >/dev/null && npm install --silent tokenizers@0.23.2)
fi
NODE_PATH="$scratch/node_modules" node "$root/scripts/assets/hf_fixtures.js"
