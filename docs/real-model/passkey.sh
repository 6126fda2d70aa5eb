#!/usr/bin/env bash
# Pass-key retrieval by greedy generation, one prompt per length and depth:
# the PoSE / LongRecipe prompt (filler sentences with "The pass key is N.
# Remember it. N is the pass key." at the given depth), answered with
# `longrecipe generate`, one forward pass over the prompt each (eval's
# passkey task also ranks 9 distractors, 11 passes per prompt, which the
# shared 2-core machine could not afford at 8k-16k tokens).
#
#   bash docs/real-model/passkey.sh BIN MODEL "1024 2048 4096" "0.5" > results.tsv
set -euo pipefail
bin=$1 model=$2 lengths=$3 depths=${4:-0.5}
intro="There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there. "
filler="The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
question="What is the pass key? The pass key is"
printf 'length\tdepth\tprompt_tokens\tkey\tanswer\tcorrect\tseconds\n'
seed=7
for len in $lengths; do
  for depth in $depths; do
    seed=$((seed + 1))
    key=$(( (seed * 7919 + len) % 90000 + 10000 ))
    n=$(( (len - 80) / 24 ))
    at=$(awk -v n="$n" -v d="$depth" 'BEGIN { printf "%d", n * d }')
    prompt=$(awk -v n="$n" -v at="$at" -v f="$filler" -v k="$key" -v intro="$intro" -v q="$question" 'BEGIN {
      s = intro
      for (i = 0; i < n; i++) { if (i == at) s = s "The pass key is " k ". Remember it. " k " is the pass key. "; s = s f }
      if (at >= n) s = s "The pass key is " k ". Remember it. " k " is the pass key. "
      printf "%s%s", s, q }')
    toks=$(printf '{"text": "%s"}\n' "$prompt" | "$bin" tokenize --tokenizer "$model/tokenizer.json" 2>/dev/null | grep -o ',' | wc -l)
    start=$(date +%s)
    answer=$("$bin" generate --model "$model" --prompt "$prompt" --max-new-tokens 8 2>/dev/null | tr '\n\t' '  ')
    secs=$(( $(date +%s) - start ))
    ok=0; case "$answer" in *"$key"*) ok=1;; esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$len" "$depth" "$((toks + 1))" "$key" "$answer" "$ok" "$secs"
  done
done
