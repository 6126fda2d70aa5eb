package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/tinybase"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// tinyModel writes a randomly initialised 2-layer Llama with a window of
// window tokens and the embedded tokenizer into a new folder.
func tinyModel(t *testing.T, window int) string {
	t.Helper()
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets")
	if err != nil {
		t.Fatal(err)
	}
	bos, _ := tok.BOS()
	eos, _ := tok.EOS()
	o := tinybase.Options{Window: window, Hidden: 32, Layers: 2, Heads: 2, KVHeads: 1, Intermediate: 64, RopeTheta: 10000}
	cfg, err := tinybase.Config(o, tok.VocabSize(), bos, eos)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "base")
	if err := m.Save(dir, "float32"); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "tokenizer.json"), assets.TokenizerJSON()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestQuickRun runs the whole harness with quick settings on a tiny random
// model and checks the plumbing: equal token budgets, the FLOP accounting,
// the report files, and that a rerun skips every finished step.
func TestQuickRun(t *testing.T) {
	base := tinyModel(t, 128)
	out := filepath.Join(t.TempDir(), "exp")
	var log bytes.Buffer
	o := Options{Base: base, Output: out, Factor: 4, Quick: true, Seed: 2027, Threads: 2, Command: "test", Log: &log}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	cfg, err := hf.LoadConfig(filepath.Join(out, "start", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxPositionEmbeddings != 512 || !(cfg.RopeTheta > 10000) {
		t.Errorf("start model: window %d, theta %v; want 512 and a raised theta", cfg.MaxPositionEmbeddings, cfg.RopeTheta)
	}
	budget := res.Settings.Tokens
	if budget != 4*512 {
		t.Errorf("quick budget %d, want 4·Lt = 2048", budget)
	}
	want := map[RunName]int{FLT: 512, PoSE: 154, RandPos: 154, LongRecipe30: 154, LongRecipe10: 51, LongRecipe20: 102, LongRecipe40: 205}
	for name, ls := range want {
		m := res.model(name)
		if m == nil || m.Training == nil || !m.Evaluated {
			t.Fatalf("%s: missing, untrained or not evaluated: %+v", name, m)
		}
		tr := m.Training
		if m.TrainLength != ls || tr.RowLen != float64(ls) {
			t.Errorf("%s: Ls %d, mean row length %v; want %d", name, m.TrainLength, tr.RowLen, ls)
		}
		// Equal budgets: within one row of the target.
		if d := tr.Tokens - budget; d > int64(ls) || d < -int64(ls) {
			t.Errorf("%s: trained %d tokens, budget %d: off by more than one row (%d)", name, tr.Tokens, budget, ls)
		}
		if tr.Tokens != tr.Rows*int64(ls) || tr.Rows != int64(tr.Steps*2) {
			t.Errorf("%s: %d tokens in %d rows over %d steps of 2 rows of %d tokens", name, tr.Tokens, tr.Rows, tr.Steps, ls)
		}
		// FLOP accounting: every row has Ls tokens.
		if w := float64(tr.Rows) * RowFLOPs(cfg, ls); math.Abs(tr.FLOPs-w) > 1e-9*w {
			t.Errorf("%s: %g FLOPs, want %g", name, tr.FLOPs, w)
		}
		if w := float64(tr.Rows) * RowFLOPs(cfg, 512); math.Abs(tr.FullFLOPs-w) > 1e-9*w {
			t.Errorf("%s: %g full-length FLOPs, want %g", name, tr.FullFLOPs, w)
		}
		if len(m.AnswerNLL) != 2*3 || !(m.LongAnswerNLL > 0) {
			t.Errorf("%s: answer NLL cells %d (want 6), long answer NLL %v", name, len(m.AnswerNLL), m.LongAnswerNLL)
		}
		if len(m.Accuracy) != 2*3 || len(m.PPL) == 0 || math.IsNaN(m.ShortPPL) {
			t.Errorf("%s: accuracy cells %d (want 6), ppl buckets %d, short ppl %v", name, len(m.Accuracy), len(m.PPL), m.ShortPPL)
		}
	}
	flt, lr := res.model(FLT), res.model(LongRecipe30)
	if flt.ComputeVsFLT != 1 || !(lr.ComputeVsFLT > 0 && lr.ComputeVsFLT < 1) {
		t.Errorf("compute vs FLT: flt %v, longrecipe %v", flt.ComputeVsFLT, lr.ComputeVsFLT)
	}
	for _, name := range []RunName{Base, LongRecipe30Replay, LongRecipe30Merge} {
		if m := res.model(name); m == nil || !m.Evaluated {
			t.Errorf("%s not evaluated", name)
		}
	}
	if m := res.model(LongRecipe30Merge); m.Training.Tokens <= lr.Training.Tokens {
		t.Errorf("merged model counts %d tokens, stage 1 alone %d: replay tokens missing", m.Training.Tokens, lr.Training.Tokens)
	}
	if len(res.Targets) != 7 {
		t.Errorf("%d targets, want 7", len(res.Targets))
	}
	for _, f := range []string{ResultsJSON, ResultsMD, AccuracyPlot, PPLPlot, NLLPlot, RatioPlot, StagePlot} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, ResultsMD))
	if !strings.Contains(string(md), "Command: `test`") || !strings.Contains(string(md), "Seed: 2027") {
		t.Errorf("results.md lacks the command or the seed:\n%s", md)
	}
	var back Results
	b, _ := os.ReadFile(filepath.Join(out, ResultsJSON))
	if err := json.Unmarshal(b, &back); err != nil || len(back.Models) != len(res.Models) {
		t.Errorf("results.json does not read back: %v", err)
	}

	// A rerun does no work.
	log.Reset()
	res2, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "running") || !strings.Contains(log.String(), "done already") {
		t.Errorf("rerun ran steps again:\n%s", log.String())
	}
	if res2.model(FLT).Training.Tokens != flt.Training.Tokens {
		t.Errorf("rerun reports other numbers")
	}

	// A changed stage-2 LR redoes the annealing and what reads it, and
	// says so; stage 1 is left alone.
	log.Reset()
	o.AnnealLR = 2 * DefaultOptions().AnnealLR
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"longrecipe-30: anneal: inputs changed (hyper.lr)", "longrecipe-30: merge: inputs changed (upstream longrecipe-30: anneal)", "longrecipe-30: train: done already"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("rerun with another anneal LR: log lacks %q:\n%s", want, log.String())
		}
	}
	if n := strings.Count(log.String(), ": running"); n != 4 {
		t.Errorf("rerun with another anneal LR ran %d steps, want 4 (anneal, merge, two evals):\n%s", n, log.String())
	}
}

// TestRowFLOPs checks the FLOP formula against the model's own count per
// token, an independent implementation, and against a hand count.
func TestRowFLOPs(t *testing.T) {
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []tinybase.Options{
		{Window: 64, Hidden: 32, Layers: 2, Heads: 2, KVHeads: 1, Intermediate: 64, RopeTheta: 1e4},
		tinybase.DefaultOptions(),
	} {
		cfg, err := tinybase.Config(o, tok.VocabSize(), 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, T := range []int{1, 77, 256, 2048} {
			got, want := RowFLOPs(cfg, T), float64(T)*m.FLOPsPerToken(T)
			if math.Abs(got-want) > 1e-9*want {
				t.Errorf("d=%d T=%d: RowFLOPs %g, model %g", o.Hidden, T, got, want)
			}
		}
	}
	// Hand count, d=256, 4 layers, 4 heads of 64, 2 KV heads, MLP 768,
	// vocab 4096: W = 4·(2·256·256 + 2·128·256 + 3·768·256) + 4096·256.
	cfg, _ := tinybase.Config(tinybase.DefaultOptions(), 4096, 1, 2)
	w := int64(4*(2*256*256+2*128*256+3*768*256) + 4096*256)
	if got := MatmulWeights(cfg); got != w {
		t.Errorf("MatmulWeights %d, want %d", got, w)
	}
	if got, want := RowFLOPs(cfg, 100), 6*float64(w)*100+6*4*256*100*100.0; got != want {
		t.Errorf("RowFLOPs(100) %g, want %g", got, want)
	}
}

// indexScorer gives token t+1 the log-probability −(t+1), so the NLL of a
// span of tokens is the mean of their indices.
type indexScorer struct{}

func (indexScorer) LogProbs(tokens, _ []int32) ([]float32, error) {
	lp := make([]float32, len(tokens)-1)
	for t := range lp {
		lp[t] = -float32(t + 1)
	}
	return lp, nil
}

// TestAnswerNLL checks that exactly the answer tokens are scored.
func TestAnswerNLL(t *testing.T) {
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets")
	if err != nil {
		t.Fatal(err)
	}
	got, err := answerNLL(context.Background(), indexScorer{}, tok, nil, 3, []int{128}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evalTasks) {
		t.Fatalf("%d cells, want %d", len(got), len(evalTasks))
	}
	for i, task := range evalTasks {
		gen := &eval.Generator{Tok: tok, Seed: 3}
		var want float64
		for _, d := range evalDepths {
			p, err := gen.Generate(task, 128, d, 0)
			if err != nil {
				t.Fatal(err)
			}
			a := len(tok.Encode(" "+p.Answers[0], false))
			var s float64
			for j := 0; j < a; j++ {
				s += float64(len(p.Tokens) + j)
			}
			want += s / float64(a) / float64(len(evalDepths))
		}
		if g := got[i]; g.Task != task || g.Length != 128 || math.Abs(g.Score-want) > 1e-6*want {
			t.Errorf("%s: %+v, want score %v", task, g, want)
		}
	}
}
