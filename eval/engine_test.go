package eval

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
)

// tinyConfig is a small random Llama with the shipped tokenizer's vocabulary.
func tinyConfig(maxPos int) *hf.Config {
	return &hf.Config{
		ModelType: "llama", VocabSize: 4096, HiddenSize: 64, IntermediateSize: 128,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: maxPos,
		HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: -1, EOSTokenID: -1,
	}
}

// TestEngine runs the engine adapter on a real (random) model: greedy
// continuations respect the budget and stop tokens, and its perplexity of
// random weights is near the vocabulary size.
func TestEngine(t *testing.T) {
	tok := sotuTok(t)
	m, err := model.New(tinyConfig(2048), 1)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Model: m, Tok: tok}
	g := &Generator{Tok: tok, Seed: 1}
	p, err := g.Generate(Passkey, 512, 0.5, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.MaxNew = 6
	ids, err := m.Generate(p.Tokens, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Complete(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if want := tok.Decode(ids, true); out != want {
		t.Errorf("Complete = %q, model.Generate decodes to %q", out, want)
	}
	// Stopping at the first generated token yields nothing.
	e.Stops = []int32{ids[0]}
	if out, err := e.Complete(context.Background(), p); err != nil || out != "" {
		t.Errorf("with the first token as a stop: %q, %v", out, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Complete(ctx, p); err == nil {
		t.Error("cancelled context: no error")
	}
	// Perplexity through the adapter.
	_, docs := sotuHaystack(t)
	res, err := Perplexity(context.Background(), []Scorer{e}, tok, "sotu", docs, 256, 1, 128, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range res.Buckets {
		if math.Abs(math.Log(b.PPL)-math.Log(4096)) > 0.5 {
			t.Errorf("random model: perplexity %v at %d–%d, want about 4096", b.PPL, b.From, b.To)
		}
	}
	if !strings.Contains(Markdown(&Results{Model: "m", PPL: res}), "Short-context perplexity (") {
		t.Error("markdown lacks the short perplexity")
	}
}

// passScorer hides the engine's cached continuation scoring, so
// ScorePartial takes one LogProbs pass per candidate.
type passScorer struct{ e *Engine }

func (p passScorer) LogProbs(tokens, positions []int32) ([]float32, error) {
	return p.e.LogProbs(tokens, positions)
}

// TestEnginePartialCached checks that the engine's cached ranking (the
// prompt run once) gives the numbers of one LogProbs pass per candidate.
func TestEnginePartialCached(t *testing.T) {
	tok := sotuTok(t)
	m, err := model.New(tinyConfig(1024), 2)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Model: m, Tok: tok}
	for _, task := range []string{Passkey, NIAHSingle} {
		p, err := (&Generator{Tok: tok, Seed: 4}).Generate(task, 512, 0.5, 0)
		if err != nil {
			t.Fatal(err)
		}
		cached, err := ScorePartial(e, tok, p)
		if err != nil {
			t.Fatal(err)
		}
		pass, err := ScorePartial(passScorer{e}, tok, p)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(cached.GoldLL-pass.GoldLL) > 1e-3 || math.Abs(cached.NeedleGain-pass.NeedleGain) > 1e-3 || cached.Candidates != pass.Candidates {
			t.Errorf("%s: cached %+v, one pass per candidate %+v", task, *cached, *pass)
		}
	}
}

// separateModel hides GenerateAndScoreBranch, so the engine generates and
// scores a prompt in two runs of it and the ablated prompt in a third.
type separateModel struct{ m *model.Model }

func (s separateModel) Generate(prompt []int32, maxNew int, stop func(id int32) bool) ([]int32, error) {
	return s.m.Generate(prompt, maxNew, stop)
}
func (s separateModel) LogProbs(tokens, positions []int32) ([]float32, error) {
	return s.m.LogProbs(tokens, positions)
}
func (s separateModel) ContinuationLogProbs(prompt []int32, conts [][]int32) ([][]float32, error) {
	return s.m.ContinuationLogProbs(prompt, conts)
}

// TestEngineOnePrefill: the engine's answer and likelihood view from one
// prefill per prompt (and the ablated prompt's from where it departs from
// the prompt) equal those of separate generation and scoring of whole
// prompts, bit for bit, through Run. Depths 0, 0.5 and 1 put the needle
// at the start, in the middle and at the end of the shared part.
func TestEngineOnePrefill(t *testing.T) {
	tok := sotuTok(t)
	m, err := model.New(tinyConfig(1024), 5)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Tasks: []string{Passkey, NIAHSingle, NIAHMultiKey}, Lengths: []int{256, 512}, Depths: []float64{0, 0.5, 1}, Samples: 2, Seed: 6}
	one, err := Run(context.Background(), &Engine{Model: m, Tok: tok}, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	two, err := Run(context.Background(), &Engine{Model: separateModel{m}, Tok: tok}, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	partials := 0
	for i, a := range one.Items {
		b := two.Items[i]
		if a.Output != b.Output || (a.Partial == nil) != (b.Partial == nil) || (a.Partial != nil && !reflect.DeepEqual(*a.Partial, *b.Partial)) {
			t.Errorf("item %d (%s): one prefill %q %+v, separate %q %+v", i, a.Task, a.Output, a.Partial, b.Output, b.Partial)
		}
		if a.Partial != nil {
			partials++
		}
	}
	if partials != 3*2*3*2 {
		t.Errorf("%d items with the likelihood view, want 36 (every task here has one answer)", partials)
	}
}

// TestEngineForks: answering two prompts at once on forks of the model
// gives the results of one at a time, item for item.
func TestEngineForks(t *testing.T) {
	tok := sotuTok(t)
	m, err := model.New(tinyConfig(1024), 5)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Tasks: []string{Passkey, NIAHSingle, VariableTrack}, Lengths: []int{512, 768}, Depths: []float64{0.5}, Samples: 3, Seed: 8}
	one, err := Run(context.Background(), &Engine{Model: m, Tok: tok}, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	forks := 0
	e := &Engine{Model: m, Tok: tok, Fork: func(threads int) TokenModel { forks++; return m.Fork(threads) }}
	opt.Parallel = 2
	two, err := Run(context.Background(), e, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	if forks != 2 || len(one.Items) != len(two.Items) {
		t.Fatalf("%d forks, %d and %d items", forks, len(one.Items), len(two.Items))
	}
	for i, a := range one.Items {
		b := two.Items[i]
		a.Seconds, b.Seconds = 0, 0
		if !reflect.DeepEqual(a, b) {
			t.Errorf("item %d: one at a time %+v, two at once %+v", i, a, b)
		}
	}
}
