package train

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
)

// markovRows returns count rows of T tokens from a fixed random sparse
// Markov chain over v tokens (each token has 4 likely successors): a
// learnable distribution whose loss falls well below ln v.
func markovRows(count, T, v int, seed uint64) Rows {
	rng := rand.New(rand.NewPCG(seed, 1))
	next := make([][4]int32, v)
	for i := range next {
		for j := range next[i] {
			next[i][j] = int32(rng.IntN(v))
		}
	}
	rows := make(Rows, count)
	for i := range rows {
		ids := make([]int32, T)
		ids[0] = int32(rng.IntN(v))
		for t := 1; t < T; t++ {
			ids[t] = next[ids[t-1]][rng.IntN(4)]
		}
		rows[i] = shards.Row{InputIDs: ids}
	}
	return rows
}

// curve trains a fresh model of cfg (seed 1) on rows in precision p and
// returns the per-step losses.
func curve(t *testing.T, cfg *hf.Config, rows Rows, steps, batch int, lr float64, p model.Precision) []float64 {
	t.Helper()
	m, err := model.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPrecision(p); err != nil {
		t.Fatal(err)
	}
	h := testHyper(steps)
	h.Batch, h.LR, h.Warmup, h.MinLR, h.Schedule = batch, lr, steps/10, lr/10, "cosine"
	out := t.TempDir()
	if _, err := Run(context.Background(), Config{Hyper: h, Model: Llama{M: m}, Data: rows, Output: out, CheckpointEvery: steps}); err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	losses := make([]float64, len(ms))
	for i, x := range ms {
		losses[i] = x.Loss
	}
	return losses
}

// tailMean is the mean of the last n values of x.
func tailMean(x []float64, n int) float64 {
	var s float64
	for _, v := range x[len(x)-n:] {
		s += v
	}
	return s / float64(n)
}

// TestBF16TrainingCurve trains the same model on the same rows in fp32
// and in bf16: the bf16 loss curve must end within 1 % of fp32's (mean of
// the last 10 steps), after the loss has fallen well below ln V. By
// default a small model for 100 steps of 4 rows of 48 tokens (seconds);
// LONGRECIPE_BF16_CURVE=tinybase trains the tiny base's architecture
// (tinybase.DefaultOptions: d 256, 4 layers, 4 heads / 2 KV, FF 768, vocab
// 8000, window 256, batch 16, LR 2e-3) for 200 steps on Markov rows
// instead (minutes; scripts/model/bf16_curve.sh; LONGRECIPE_BF16_CURVE_STEPS
// and LONGRECIPE_BF16_CURVE_BATCH override steps and batch).
func TestBF16TrainingCurve(t *testing.T) {
	cfg := &hf.Config{
		ModelType: "llama", VocabSize: 256, HiddenSize: 64, IntermediateSize: 192,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 256,
		HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: -1, EOSTokenID: -1, TieWordEmbeddings: true,
	}
	steps, batch, T, lr := 100, 4, 48, 3e-3
	if os.Getenv("LONGRECIPE_BF16_CURVE") == "tinybase" {
		cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers = 8000, 256, 768, 4
		steps, batch, T, lr = 200, 16, 256, 2e-3
	}
	if s := os.Getenv("LONGRECIPE_BF16_CURVE_STEPS"); s != "" {
		steps, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("LONGRECIPE_BF16_CURVE_BATCH"); s != "" {
		batch, _ = strconv.Atoi(s)
	}
	rows := markovRows(steps*batch, T, cfg.VocabSize, 3)
	t0 := time.Now()
	l32 := curve(t, cfg, rows, steps, batch, lr, model.FP32)
	t1 := time.Now()
	l16 := curve(t, cfg, rows, steps, batch, lr, model.BF16)
	t2 := time.Now()
	f32, f16 := tailMean(l32, 10), tailMean(l16, 10)
	rel := math.Abs(f16-f32) / f32
	t.Logf("d=%d L=%d V=%d T=%d batch %d, %d steps: loss %.4f -> fp32 %.4f (%.1fs), bf16 %.4f (%.1fs); relative difference %.3g %%",
		cfg.HiddenSize, cfg.NumHiddenLayers, cfg.VocabSize, T, batch, steps, l32[0], f32, t1.Sub(t0).Seconds(), f16, t2.Sub(t1).Seconds(), 100*rel)
	if !(f32 < 0.7*l32[0]) {
		t.Fatalf("fp32 loss %.4f -> %.4f: did not learn enough for the comparison to mean anything", l32[0], f32)
	}
	if rel > 0.01 {
		t.Errorf("bf16 final loss %.4f differs from fp32's %.4f by %.3g %% (> 1 %%)", f16, f32, 100*rel)
	}
}
