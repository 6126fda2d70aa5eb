package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/eval/folder"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
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

// TestQuickRun runs the whole harness with quick settings (two seeds) on a
// tiny random model and checks the plumbing: equal token budgets and equal
// sequences, the FLOP accounting, every control and stage, the claim table
// over seeds, the report files, and that a rerun skips every finished step.
func TestQuickRun(t *testing.T) {
	base := tinyModel(t, 128)
	out := filepath.Join(t.TempDir(), "exp")
	var log bytes.Buffer
	o := Options{Base: base, Output: out, Factor: 2, Quick: true, Seed: 2027, Threads: 2, Command: "test", Log: &log}
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if len(sum.PerSeed) != 2 || sum.Seeds[0] != 2027 || sum.Seeds[1] != 2028 {
		t.Fatalf("seeds %v", sum.Seeds)
	}
	res := sum.PerSeed[0]
	seedDir := filepath.Join(out, "seed-2027")
	cfg, err := hf.LoadConfig(filepath.Join(seedDir, "start", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxPositionEmbeddings != 256 || !(cfg.RopeTheta > 10000) {
		t.Errorf("start model: window %d, theta %v; want 256 and a raised theta", cfg.MaxPositionEmbeddings, cfg.RopeTheta)
	}
	budget := res.Settings.Tokens
	if budget != 4*256 {
		t.Errorf("quick budget %d, want 4·Lt = 1024", budget)
	}
	want := map[RunName]int{FLT: 256, PoSE: 77, RandPos: 77, LongRecipe30: 77, LongRecipe10: 26, LongRecipe20: 51, LongRecipe40: 102,
		LongRecipe30NoSelect: 77, LongRecipe30Random: 77, LongRecipe30Analysis: 77}
	for name, ls := range want {
		m := res.model(name)
		if m == nil || m.Training == nil || !m.Evaluated {
			t.Fatalf("%s: missing, untrained or not evaluated: %+v", name, m)
		}
		tr := m.Training
		if m.TrainLength != ls || tr.RowLen != float64(ls) {
			t.Errorf("%s: Ls %d, mean row length %v; want %d", name, m.TrainLength, tr.RowLen, ls)
		}
		// Equal budgets: within one row of the target; the ratio
		// ablation: LongRecipe 30 %'s steps.
		switch name {
		case LongRecipe10, LongRecipe20, LongRecipe40:
			if tr.Steps != res.model(LongRecipe30).Training.Steps {
				t.Errorf("%s: %d steps, want LongRecipe 30 %%'s %d", name, tr.Steps, res.model(LongRecipe30).Training.Steps)
			}
		default:
			if d := tr.Tokens - budget; d > int64(ls) || d < -int64(ls) {
				t.Errorf("%s: trained %d tokens, budget %d: off by more than one row (%d)", name, tr.Tokens, budget, ls)
			}
		}
		checkRows(t, name, m, cfg, ls)
		if len(m.Accuracy) != 4 || len(m.AnswerNLL) != 4 || len(m.Top1) != 4 || math.IsNaN(m.LongTop1) || !(m.LongCopy <= eval.MaxClaimCopy) || len(m.ItemTop1) == 0 || len(m.DocLastNLL) == 0 || len(m.PPL) == 0 || math.IsNaN(m.ShortPPL) || math.IsNaN(m.LastPPL) {
			t.Errorf("%s: accuracy %d, answer NLL %d, top-1 %d cells (want 4 each), long top-1 %v (copy %v), %d items, %d documents, ppl buckets %d, short ppl %v, last ppl %v",
				name, len(m.Accuracy), len(m.AnswerNLL), len(m.Top1), m.LongTop1, m.LongCopy, len(m.ItemTop1), len(m.DocLastNLL), len(m.PPL), m.ShortPPL, m.LastPPL)
		}
		if m.Epochs() > 1 {
			t.Errorf("%s: %.2f epochs: the chunked corpus should give every run fresh rows", name, m.Epochs())
		}
	}
	// Equal sequences: FLT trains as many rows as LongRecipe 30 %, at Lt.
	lr, fs := res.model(LongRecipe30), res.model(FLTSequences)
	if fs == nil || fs.Training == nil || fs.Training.Rows != lr.Training.Rows || fs.TrainLength != 256 {
		t.Fatalf("FLT at equal sequences: %+v, LongRecipe rows %d", fs, lr.Training.Rows)
	}
	checkRows(t, FLTSequences, fs, cfg, 256)
	flt := res.model(FLT)
	if flt.ComputeVsFLT != 1 || !(lr.ComputeVsFLT > 0 && lr.ComputeVsFLT < 1) {
		t.Errorf("compute vs FLT: flt %v, longrecipe %v", flt.ComputeVsFLT, lr.ComputeVsFLT)
	}
	for _, name := range []RunName{Base, Start} {
		if m := res.model(name); m == nil || !m.Evaluated || m.Training != nil {
			t.Errorf("%s: not evaluated, or trained: %+v", name, m)
		}
	}
	for _, rs := range runs {
		n := rs.Name
		for _, name := range []RunName{n.afterReplay(), n.afterMerge()} {
			m := res.model(name)
			if m == nil || !m.Evaluated || m.Training.Tokens <= res.model(n).Training.Tokens {
				t.Errorf("%s: not evaluated, or replay tokens missing: %+v", name, m)
			}
		}
	}
	// The controls' data: random drops at 1 − the digit selection's kept
	// fraction; the analysis control reads the analysis's file.
	kf := res.Settings.KeptFraction
	if !(kf > 0.5 && kf < 1) {
		t.Errorf("digit kept fraction %v", kf)
	}
	man, err := shards.ReadManifest(filepath.Join(seedDir, "runs", string(LongRecipe30Random), "data"))
	if err != nil || man.Selection == nil || math.Abs(man.Selection.DropProb-(1-kf)) > 1e-12 || man.Selection.Impactful != "" {
		t.Errorf("random-drop data: %+v, %v; want drop probability %v and no impactful set", man.Selection, err, 1-kf)
	}
	man, err = shards.ReadManifest(filepath.Join(seedDir, "runs", string(LongRecipe30Analysis), "data"))
	if err != nil || man.Selection == nil || !strings.HasSuffix(man.Selection.Impactful, filepath.Join("analysis", "impactful.json")) {
		t.Errorf("analysis-set data: %+v, %v", man.Selection, err)
	}
	// The claim table over seeds.
	if len(sum.Claims) != len(claims) || len(sum.Targets) != len(claims) || len(res.Targets) != len(claims) || len(sum.Stage1Claims) != len(claims)-1 {
		t.Errorf("%d claims, %d stage-1 claims, %d targets, %d per-seed targets; want %d", len(sum.Claims), len(sum.Stage1Claims), len(sum.Targets), len(res.Targets), len(claims))
	}
	if !slices.Equal(res.ClaimTasks, []string{eval.DecoyPasskey, eval.DecoyMultiKey}) || sum.FLOPsRatio.N != 2 || !(sum.FLOPsRatio.Mean > 0 && sum.FLOPsRatio.Mean < 1) {
		t.Errorf("claim tasks %v, FLOPs ratio %+v", res.ClaimTasks, sum.FLOPsRatio)
	}
	for _, c := range sum.Claims {
		if c.ID == "vs-start" && (c.Interval.N != 2 || c.Bootstrap.N == 0) {
			t.Errorf("vs-start claim over two seeds: %+v", c)
		}
	}
	// Seeds vary the data order of every run, FLT's included.
	for _, n := range []RunName{FLT, LongRecipe30} {
		if slices.Equal(firstRow(t, filepath.Join(seedDir, "runs", string(n), "data")), firstRow(t, filepath.Join(out, "seed-2028", "runs", string(n), "data"))) {
			t.Errorf("%s: the two seeds train on the same first row", n)
		}
	}
	for _, f := range []string{ResultsJSON, ResultsMD, MethodsPlot, ControlsPlot} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("summary file %s: %v", f, err)
		}
	}
	for _, f := range []string{ResultsJSON, ResultsMD, AccuracyPlot, PPLPlot, NLLPlot, RatioPlot, StagePlot, filepath.Join("analysis", "impactful.json")} {
		if fi, err := os.Stat(filepath.Join(seedDir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, ResultsMD))
	for _, w := range []string{"Command: `test`", "Seeds: 2027, 2028", "| claim | paper | ours (mean ± 95 % interval over seeds) | paired bootstrap | holds? |", "## Stage-1 models", "FLT at equal sequences"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("results.md lacks %q:\n%s", w, md)
		}
	}
	var back Results
	b, _ := os.ReadFile(filepath.Join(seedDir, ResultsJSON))
	if err := json.Unmarshal(b, &back); err != nil || len(back.Models) != len(res.Models) {
		t.Errorf("results.json does not read back: %v", err)
	}

	// A rerun does no work.
	log.Reset()
	sum2, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "running") || !strings.Contains(log.String(), "done already") {
		t.Errorf("rerun ran steps again:\n%s", log.String())
	}
	if sum2.PerSeed[0].model(FLT).Training.Tokens != flt.Training.Tokens {
		t.Errorf("rerun reports other numbers")
	}

	// A changed stage-2 LR redoes every annealing and what reads it, and
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
	if n := strings.Count(log.String(), ": running"); n != 2*len(runs)*4 {
		t.Errorf("rerun with another anneal LR ran %d steps, want %d (2 seeds × %d runs × anneal, merge, two evals):\n%s", n, 2*len(runs)*4, len(runs), log.String())
	}
}

// firstRow returns the token ids of a dataset's first row.
func firstRow(t *testing.T, dir string) []int32 {
	t.Helper()
	ds, err := shards.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	r, err := ds.Row(0)
	if err != nil {
		t.Fatal(err)
	}
	return r.InputIDs
}

// checkRows checks a run's row and FLOP accounting: rows of ls tokens, two
// per step.
func checkRows(t *testing.T, name RunName, m *ModelResult, cfg *hf.Config, ls int) {
	t.Helper()
	tr := m.Training
	if tr.Tokens != tr.Rows*int64(ls) || tr.Rows != int64(tr.Steps*2) {
		t.Errorf("%s: %d tokens in %d rows over %d steps of 2 rows of %d tokens", name, tr.Tokens, tr.Rows, tr.Steps, ls)
	}
	if w := float64(tr.Rows) * RowFLOPs(cfg, ls); math.Abs(tr.FLOPs-w) > 1e-9*w {
		t.Errorf("%s: %g FLOPs, want %g", name, tr.FLOPs, w)
	}
	if w := float64(tr.Rows) * RowFLOPs(cfg, cfg.MaxPositionEmbeddings); math.Abs(tr.FullFLOPs-w) > 1e-9*w {
		t.Errorf("%s: %g full-length FLOPs, want %g", name, tr.FullFLOPs, w)
	}
}

// TestTInterval checks the interval against hand values: 1, 2, 3 has mean
// 2, s = 1, half-width t(0.975, 2)/√3 = 4.303/√3.
func TestTInterval(t *testing.T) {
	iv := tInterval([]float64{1, 2, 3, math.NaN()})
	if iv.N != 3 || iv.Missing != 1 || iv.Mean != 2 || math.Abs(iv.HalfWidth-4.303/math.Sqrt(3)) > 1e-12 {
		t.Errorf("interval %+v", iv)
	}
	if iv := tInterval([]float64{5}); iv.Mean != 5 || !math.IsNaN(iv.HalfWidth) {
		t.Errorf("one value: %+v", iv)
	}
	if iv := tInterval(nil); iv.N != 0 || !math.IsNaN(iv.Mean) {
		t.Errorf("no value: %+v", iv)
	}
	// 40 values: the normal quantile.
	vs := make([]float64, 40)
	for i := range vs {
		vs[i] = float64(i % 2)
	}
	sd := math.Sqrt(10.0 / 39)
	if iv := tInterval(vs); math.Abs(iv.HalfWidth-1.96*sd/math.Sqrt(40)) > 1e-12 {
		t.Errorf("40 values: half-width %v", iv.HalfWidth)
	}
	c := claim{bound: 0.9, atLeast: true, format: pctf}
	none := Bootstrap{Lo: math.NaN(), Hi: math.NaN()}
	for _, tc := range []struct {
		vs   []float64
		bs   Bootstrap
		want string
	}{
		{[]float64{0.95, 0.96, 0.97}, none, "yes"},
		{[]float64{0.95, 0.96, 0.97}, Bootstrap{0.92, 0.99, 1000}, "yes"},
		{[]float64{0.95, 0.96, 0.97}, Bootstrap{0.85, 0.99, 1000}, "undecided (an interval straddles the bound)"},
		{[]float64{0.5, 0.6, 0.55}, Bootstrap{0.5, 0.6, 1000}, "**no**"},
		{[]float64{0.5, 0.6, 0.55}, Bootstrap{0.95, 0.99, 1000}, "undecided (an interval straddles the bound)"},
		{[]float64{0.5, 1.3, 0.9}, none, "undecided (an interval straddles the bound)"},
		{[]float64{0.95}, none, "yes (1 seed)"},
		{[]float64{math.NaN()}, none, "n/a"},
		{[]float64{0.95, math.NaN()}, none, "undecided (undefined on 1 seed(s))"},
	} {
		if got, _ := c.verdict(tInterval(tc.vs), tc.bs); got != tc.want {
			t.Errorf("verdict(%v, %+v) = %q, want %q", tc.vs, tc.bs, got, tc.want)
		}
	}
	// "Beats" is strict: a tie does not hold.
	beats := claim{bound: 0, atLeast: true, strict: true, format: ptsf}
	for _, tc := range []struct {
		vs   []float64
		want string
	}{{[]float64{0, 0, 0}, "**no**"}, {[]float64{0.02, 0.03, 0.04}, "yes"}, {[]float64{0, 0.05, 0.1}, "undecided (an interval straddles the bound)"}} {
		if got, _ := beats.verdict(tInterval(tc.vs), none); got != tc.want {
			t.Errorf("strict verdict(%v) = %q, want %q", tc.vs, got, tc.want)
		}
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

// TestAnswerNLL: the answer NLL read off the evaluation's likelihood view
// equals scoring prompt + " " + answer by teacher forcing in one full pass,
// prompt by prompt, exactly the answer tokens counted.
func TestAnswerNLL(t *testing.T) {
	dir := tinyModel(t, 512)
	sess, err := folder.Open(dir, folder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hay := eval.NoiseHaystack()
	lengths := []int{256, 512} // the decoy tasks need 256
	res, err := sess.Run(context.Background(), eval.Options{Tasks: evalTasks, Lengths: lengths, Depths: evalDepths, Samples: 2, Seed: 3, Haystack: hay})
	if err != nil {
		t.Fatal(err)
	}
	got, err := answerNLL(res, sess.Tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evalTasks)*len(lengths) {
		t.Fatalf("%d cells, want %d", len(got), len(evalTasks)*len(lengths))
	}
	gen := &eval.Generator{Tok: sess.Tok, Haystack: hay, Seed: 3}
	for i, c := range got {
		var want float64
		var n int
		for _, d := range evalDepths {
			for s := 0; s < 2; s++ {
				p, err := gen.Generate(c.Task, c.Length, d, s)
				if err != nil {
					t.Fatal(err)
				}
				ans := sess.Tok.Encode(" "+p.Answers[0], false)
				lp, err := sess.Model.LogProbs(append(append([]int32{}, p.Tokens...), ans...), nil)
				if err != nil {
					t.Fatal(err)
				}
				var nll float64
				for _, v := range lp[len(p.Tokens)-1:] {
					nll -= float64(v)
				}
				want += nll / float64(len(ans))
				n++
			}
		}
		want /= float64(n)
		if wantTask, wantLen := evalTasks[i/len(lengths)], lengths[i%len(lengths)]; c.Task != wantTask || c.Length != wantLen || math.Abs(c.Score-want) > 1e-4*want {
			t.Errorf("cell %d: %+v, want %s at %d with score %v", i, c, wantTask, wantLen, want)
		}
	}
	res.Items[0].Partial = nil
	if _, err := answerNLL(res, sess.Tok); err == nil || !strings.Contains(err.Error(), "no gold-answer likelihood") {
		t.Errorf("an item without the likelihood view: error %v", err)
	}
}

// TestChunkDocs checks the chunked corpus: every piece of a long document
// holds more than Lt tokens with BOS, the pieces keep the words in order,
// and short documents stay whole.
func TestChunkDocs(t *testing.T) {
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("The union is strong and the people are 1776 free. ", 300)
	short := "A short address."
	const lt = 256
	got := chunkDocs(tok, []string{long, short}, lt)
	if len(got) < 5 || got[len(got)-1] != short {
		t.Fatalf("%d pieces, last %q", len(got), got[len(got)-1])
	}
	var words []string
	for _, p := range got[:len(got)-1] {
		if n := len(tok.Encode(p, true)); n <= lt {
			t.Errorf("piece of %d tokens, want > %d", n, lt)
		}
		words = append(words, strings.Fields(p)...)
	}
	if strings.Join(words, " ") != strings.Join(strings.Fields(long), " ") {
		t.Error("the pieces do not give back the document's words in order")
	}
	// Digit selection keeps digit sentences and half of the others.
	doc := "We had 12 ships. We had no fear."
	n1 := float64(len(tok.Encode("We had 12 ships.", true)))
	n := float64(len(tok.Encode(doc, true)))
	if kf, want := digitKeptFraction(tok, []string{doc}), (n1+0.5*(n-n1))/n; math.Abs(kf-want) > 1e-12 {
		t.Errorf("kept fraction %v, want %v", kf, want)
	}
}
