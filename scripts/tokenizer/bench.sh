#!/usr/bin/env bash
# Side-by-side encoding speed: longrecipe tokenize vs Hugging Face tokenizers
# (npm tokenizers, sequential encode and batched encodeBatch) on the same
# corpus, checking that the ids are identical. Prints MB/s and ratios.
#
# Usage: scripts/tokenizer/bench.sh NODE_MODULES [TOKENIZER_JSON[.gz] ...]
#   NODE_MODULES: a folder with the npm package tokenizers installed, e.g. after
#   (mkdir -p /tmp/tok-node && cd /tmp/tok-node && npm install tokenizers@0.23)
# Corpus: assets/sotu.jsonl.gz, the 233 State of the Union addresses
# (10.7 MB of text, one JSONL row each).
# Default tokenizers: the Llama 3 file (fetched), Qwen3, Mistral and our own
# (assets/tokenizer.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
nm=${1:?usage: bench.sh NODE_MODULES [TOKENIZER_JSON ...]}
shift
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(testdata/fetched/llama3-tokenizer.json tokenizer/testdata/qwen3-tokenizer.json.gz tokenizer/testdata/mistral-tokenizer.json.gz assets/tokenizer.json)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
zcat assets/sotu.jsonl.gz > "$tmp/corpus.jsonl"
go build -o "$tmp/longrecipe" ./cmd/longrecipe
echo "cores: $(nproc)"
for f in "${files[@]}"; do
  if [ ! -s "$f" ]; then echo "skip $f (missing)"; continue; fi
  tj="$tmp/tokenizer.json"
  case "$f" in *.gz) zcat "$f" > "$tj";; *) cp "$f" "$tj";; esac
  hf=$(node scripts/tokenizer/bench-hf.js "$nm" "$tj" "$tmp/corpus.jsonl" "$tmp/hf.jsonl")
  # --force: each tokenizer replaces the previous one's output (tokenize
  # refuses to overwrite an existing file without it).
  ours=$("$tmp/longrecipe" tokenize --force --tokenizer "$tj" --input "$tmp/corpus.jsonl" --output "$tmp/ours.jsonl" 2>&1 >/dev/null | tail -1)
  if ! cmp -s "$tmp/hf.jsonl" "$tmp/ours.jsonl"; then
    echo "$f: IDS DIFFER from HF tokenizers"; exit 1
  fi
  eval "$hf"
  our_mbs=$(sed -E 's/.*\(([0-9.]+) MB\/s.*/\1/' <<<"$ours")
  awk -v f="$f" -v o="$our_mbs" -v s="$hf_seq_mbs" -v b="$hf_batch_mbs" -v n="$bytes" 'BEGIN {
    printf "%s: %d bytes, ids identical. ours %.2f MB/s (longrecipe tokenize, all cores); HF sequential %.2f MB/s, HF batched %.2f MB/s; ratio %.1fx vs sequential, %.1fx vs batched\n", f, n, o, s, b, o/s, o/b }'
done
