#!/usr/bin/env bash
# Whole-process tokenization, load included, side by side: "longrecipe
# tokenize" against Hugging Face tokenizers (npm tokenizers: fromFile, then
# encodeBatch, then write), on the same tokenizer.json and corpus, checking
# the ids are identical. Each side is timed as a whole process (best of
# RUNS wall-clock runs), and the tokenizer load alone is timed too: ours
# with a corpus of one short row, HF by fromFile inside the process.
#
# Usage: scripts/tokenizer/startup.sh NODE_MODULES [TOKENIZER_JSON[.gz]] [RUNS=3]
#   NODE_MODULES: a folder with npm tokenizers installed (see bench.sh).
#   Default tokenizer: Qwen3's (11 MB). Corpus: assets/sotu.jsonl.gz (10.7 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
nm=${1:?usage: startup.sh NODE_MODULES [TOKENIZER_JSON] [RUNS]}
f=${2:-tokenizer/testdata/qwen3-tokenizer.json.gz}
runs=${3:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
zcat assets/sotu.jsonl.gz > "$tmp/corpus.jsonl"
echo '{"text": "Hello"}' > "$tmp/one.jsonl"
tj="$tmp/tokenizer.json"
case "$f" in *.gz) zcat "$f" > "$tj";; *) cp "$f" "$tj";; esac
go build -o "$tmp/longrecipe" ./cmd/longrecipe
echo "tokenizer $f ($(stat -c %s "$tj") bytes), corpus $(stat -c %s "$tmp/corpus.jsonl") bytes; load: $(uptime | sed 's/.*load average/load average/')"
best() { # command... -> best wall seconds of $runs runs
  local b=""
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    b=$(awk -v b="$b" -v t="$(awk -v a="$t0" -v c="$t1" 'BEGIN{print c-a}')" 'BEGIN{ if (b == "" || t < b) print t; else print b }')
  done
  echo "$b"
}
ours=$(best "$tmp/longrecipe" tokenize --tokenizer "$tj" --input "$tmp/corpus.jsonl" --output "$tmp/ours.jsonl" --force)
ours_load=$(best "$tmp/longrecipe" tokenize --tokenizer "$tj" --input "$tmp/one.jsonl" --output "$tmp/one.out" --force)
hf=$(best node scripts/tokenizer/startup-hf.js "$nm" "$tj" "$tmp/corpus.jsonl" "$tmp/hf.jsonl")
hf_detail=$(node scripts/tokenizer/startup-hf.js "$nm" "$tj" "$tmp/corpus.jsonl" "$tmp/hf.jsonl")
cmp -s "$tmp/hf.jsonl" "$tmp/ours.jsonl" || { echo "IDS DIFFER from HF tokenizers"; exit 1; }
echo "ids identical"
echo "longrecipe tokenize, whole process: ${ours}s (load + one row: ${ours_load}s)"
echo "HF tokenizers fromFile + encodeBatch + write, whole node process: ${hf}s ($hf_detail)"
awk -v o="$ours" -v h="$hf" 'BEGIN { printf "ratio HF / ours (whole process, best of runs): %.2fx\n", h/o }'
