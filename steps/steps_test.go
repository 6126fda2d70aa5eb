package steps

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/testfix"
	"github.com/longrecipe/longrecipe/tokenizer"
	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

// TestTheta: 0 is the dynamic-NTK rule at the target window, a negative
// value keeps the base's θ, any other value is used as it is.
func TestTheta(t *testing.T) {
	base := &hf.Config{RopeTheta: 500000, HeadDim: 128, MaxPositionEmbeddings: 8192}
	for _, c := range []struct {
		lt   int
		set  float64
		want float64
	}{
		{131072, 0, hf.DefaultRopeTheta(500000, 128, 8192, 131072)},
		{8192, 0, 500000}, // no extension: unchanged
		{131072, -1, 500000},
		{131072, 2e6, 2e6},
	} {
		if got := Theta(base, c.lt, c.set); got != c.want {
			t.Errorf("Theta(lt %d, set %v) = %v, want %v", c.lt, c.set, got, c.want)
		}
	}
	if got := Theta(base, 131072, 0); math.Abs(got-131.5e6)/131.5e6 > 1e-3 {
		t.Errorf("Llama-3 8k→128k: θ %v, want the paper's 131.5M", got)
	}
}

// TestStartTrainMerge runs the steps a recipe chains on a tiny model: the
// start model has the new θ and window, training reports the last loss of
// its metrics, the merge of two equal models is that model.
func TestStartTrainMerge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base := testfix.Llama{Vocab: 64, Window: 32}.Write(t, filepath.Join(dir, "base"))
	start := filepath.Join(dir, "start")
	out, err := Start{Base: base, Theta: 40000, Window: 128}.Run(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := hf.LoadConfig(filepath.Join(start, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RopeTheta != 40000 || cfg.MaxPositionEmbeddings != 128 || out.(map[string]any)["rope_theta"] != 40000.0 {
		t.Fatalf("start model θ %v window %d (outputs %v), want 40000 and 128", cfg.RopeTheta, cfg.MaxPositionEmbeddings, out)
	}
	if _, err := os.Stat(filepath.Join(start, "tokenizer.json")); err != nil {
		t.Fatalf("start model without the tokenizer: %v", err)
	}
	rows := testfix.TrainRows(t, filepath.Join(dir, "rows.jsonl"), 4, 16, 64)
	h := train.Hyper{Steps: 3, Batch: 1, GradAccum: 1, Schedule: "constant", LR: 1e-3, GradClip: 1}
	h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1})
	j := trainer.Job{Hyper: h, From: start, Data: rows, Output: filepath.Join(dir, "trained"), Threads: 1, SaveDType: SaveDType(cfg)}
	tr, res, err := Train(ctx, trainer.Go{}, j)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Steps != 3 || tr.LastLoss != res.LastLoss || tr.SaveDType != "float32" || tr.Tokens != res.Tokens {
		t.Fatalf("trained %+v, result %+v", tr, res)
	}
	again, res2, err := Train(ctx, trainer.Go{}, j) // finished: no step runs, the metrics give the loss
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(res2.LastLoss) || again.LastLoss != tr.LastLoss {
		t.Fatalf("rerun of a finished run: loss %v (result %v), want %v", again.LastLoss, res2.LastLoss, tr.LastLoss)
	}
	if _, err := (Merge{Models: []string{j.Output, j.Output}, Weights: []float64{0.5, 0.5}}).Run(ctx, filepath.Join(dir, "merged")); err != nil {
		t.Fatal(err)
	}
}

// TestRowsNone: a data job that yields no rows is an error naming its input.
func TestRowsNone(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	testfix.WriteFile(t, in, []byte(`{"input_ids": [1, 2]}`+"\n"))
	_, err := Rows(context.Background(), data.Job{Input: in, Output: filepath.Join(dir, "out"), Method: data.Full, TargetLength: 64, TrainLength: 64,
		Corpus: data.CorpusOptions{IDsField: "input_ids"}})
	if err == nil || !strings.Contains(err.Error(), "no rows") || !strings.Contains(err.Error(), in) {
		t.Fatalf("error %v, want no rows in %s", err, in)
	}
}

// TestAnalysisDocs: the first n documents of at least 2 tokens, each
// truncated; none is an error.
func TestAnalysisDocs(t *testing.T) {
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("one two three ", 50)
	docs, err := AnalysisDocs("", []string{"", long, "a b c", long}, tok, 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || len(docs[0]) != 16 || len(docs[1]) >= 16 || len(docs[1]) < 2 {
		t.Fatalf("docs of %v tokens", lens(docs))
	}
	path := filepath.Join(t.TempDir(), "d.jsonl")
	testfix.WriteFile(t, path, []byte(`{"input_ids": [1, 2, 3]}`+"\n"+`{"input_ids": [5000000, 1]}`+"\n"))
	if docs, err := AnalysisDocs(path, nil, tok, 1, 2); err != nil || len(docs) != 1 || len(docs[0]) != 2 {
		t.Fatalf("ids file, one document: %v, %v", docs, err)
	}
	if _, err := AnalysisDocs(path, nil, tok, 5, 8); err == nil || !strings.Contains(err.Error(), "token id 5000000") {
		t.Fatalf("id outside the vocabulary: %v", err)
	}
	if _, err := AnalysisDocs("", []string{""}, tok, 5, 8); err == nil || !strings.Contains(err.Error(), "no document") {
		t.Fatalf("no document: %v", err)
	}
}

func lens(docs [][]int32) []int {
	out := make([]int, len(docs))
	for i, d := range docs {
		out[i] = len(d)
	}
	return out
}
