#!/usr/bin/env bash
# Side-by-side training speed on this CPU: the Go trainer vs the torch
# backend (1 process, and 2 processes with FSDP over gloo), the same model
# (longrecipe init), the same LongRecipe rows (longrecipe prepare), the same
# hyperparameters, fp32. Prints each run's tokens/s over its steps after the
# first (from metrics.jsonl) and the load average.
#
#   bash scaleout/bench/cpu.sh [HIDDEN=256] [LAYERS=4] [LS=512] [STEPS=6]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
hidden=${1:-256} layers=${2:-4} ls=${3:-512} steps=${4:-6}
work=$(mktemp -d /tmp/lr-bench.XXXXXX)
bin="$work/longrecipe"
(cd "$root" && go build -o "$bin" ./cmd/longrecipe)
PY=$(bash "$root/scripts/pyenv.sh")
cat >"$work/config.json" <<JSON
{"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":4096,"hidden_size":$hidden,
 "intermediate_size":$((hidden*3)),"num_hidden_layers":$layers,"num_attention_heads":8,"num_key_value_heads":4,
 "max_position_embeddings":$((ls*4)),"rope_theta":10000.0,"rms_norm_eps":1e-6,"hidden_act":"silu",
 "initializer_range":0.02,"tie_word_embeddings":false,"torch_dtype":"float32"}
JSON
"$bin" init --config "$work/config.json" --output "$work/model" >/dev/null
(zcat "$root/assets/sotu.jsonl.gz" || true) | head -40 >"$work/corpus.jsonl"
"$bin" prepare --tokenizer "$root/assets/tokenizer.json" --input "$work/corpus.jsonl" --method longrecipe \
  --target-length $((ls*4)) --train-length "$ls" --impactful digits --output "$work/ds" >/dev/null 2>&1
flags=(--model "$work/model" --data "$work/ds" --steps "$steps" --lr 1e-4 --precision fp32 --checkpoint-every 0)
rate() { "$PY" -c 'import json,sys; m=[json.loads(l) for l in open(sys.argv[1])][1:]; print("%.0f tokens/s over steps 2-%d (%d tokens each), last loss %.4f" % (sum(x["tokens"] for x in m)/sum(x["tokens"]/x["tokens_per_s"] for x in m), len(m)+1, m[0]["tokens"], m[-1]["loss"]))' "$1/metrics.jsonl"; }
export LONGRECIPE_ROOT="$root" LONGRECIPE_PYTHON="$PY"
echo "model: hidden $hidden, $layers layers, vocab 4096; rows of $ls tokens (LongRecipe positions over $((ls*4))); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" train "${flags[@]}" --output "$work/go" >/dev/null 2>&1;                        echo "go trainer        : $(rate "$work/go")"
"$bin" train "${flags[@]}" --output "$work/t1" --backend torch >/dev/null 2>&1;        echo "torch, 1 process  : $(rate "$work/t1")"
OMP_NUM_THREADS=1 "$bin" train "${flags[@]}" --output "$work/t1b" --backend torch >/dev/null 2>&1; echo "torch, 1 process, OMP_NUM_THREADS=1: $(rate "$work/t1b")"
"$bin" train "${flags[@]}" --output "$work/t2" --backend torch --nproc 2 >/dev/null 2>&1; echo "torch, 2 processes: $(rate "$work/t2")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); work folder $work"
