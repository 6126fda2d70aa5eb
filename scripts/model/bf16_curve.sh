#!/usr/bin/env bash
# The bf16 training curve against fp32 on the tiny base's architecture
# (tinybase.DefaultOptions: d 256, 4 layers, 4 heads / 2 KV, FF 768, vocab
# 8000, window 256, batch 16, LR 2e-3 cosine) for 200 steps on Markov rows:
# the final loss (mean of the last 10 steps) in bf16 must be within 1 % of
# fp32's. train.TestBF16TrainingCurve with LONGRECIPE_BF16_CURVE=tinybase;
# takes minutes (the test command runs a small model for 100 steps).
# Usage: scripts/model/bf16_curve.sh [steps=200] [batch=16]
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "load: $(uptime | sed 's/.*load average/load average/')"
LONGRECIPE_BF16_CURVE=tinybase LONGRECIPE_BF16_CURVE_STEPS=${1:-200} LONGRECIPE_BF16_CURVE_BATCH=${2:-16} \
  go test ./train -count=1 -run '^TestBF16TrainingCurve$' -v -timeout 120m | grep -E 'precision_test|ok|FAIL'
echo "load: $(uptime | sed 's/.*load average/load average/')"
