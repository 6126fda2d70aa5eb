package eval

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRankFirst(t *testing.T) {
	cases := []struct {
		lls  []float64
		rank int
		top1 float64
	}{
		{[]float64{-1, -2, -3}, 1, 1},
		{[]float64{-3, -2, -1}, 3, 0},
		{[]float64{-2, -1, -3}, 2, 0},
		{[]float64{-1, -1, -3}, 1, 0.5},
		{[]float64{-1, -1, -1, -1}, 1, 0.25},
		{[]float64{-2, -1, -2}, 2, 0},
	}
	for _, c := range cases {
		if r, top := rankFirst(c.lls); r != c.rank || top != c.top1 {
			t.Errorf("rankFirst(%v) = %d, %v; want %d, %v", c.lls, r, top, c.rank, c.top1)
		}
	}
}

// Log-probabilities of the reader, a fake model whose scores are set by
// hand: it reads the prompt (with the reference solver, byte tokens) and
// gives each token of an ending " " + answer the log-probability
// readerHit when that answer can be read from the text before it, and
// readerMiss to every other token.
const readerHit, readerMiss = -0.5, -2.0

type reader struct {
	solver
	w      *Wording
	scored int
}

func (r *reader) LogProbs(tokens, positions []int32) ([]float32, error) {
	r.scored++
	text := byteTok{}.Decode(tokens, true)
	lp := make([]float32, len(tokens)-1)
	for i := range lp {
		lp[i] = readerMiss
	}
	for _, task := range []string{Passkey, NIAHSingle} {
		for _, a := range solveIn(r.w, task, text) {
			end := " " + a
			if len(a) > 0 && strings.HasSuffix(text, end) && len(solveIn(r.w, task, strings.TrimSuffix(text, end))) > 0 {
				for i := len(lp) - len(end); i < len(lp); i++ {
					lp[i] = readerHit
				}
				return lp, nil
			}
		}
	}
	return lp, nil
}

// TestScorePartial checks the three measures on hand-made scores: a
// model that reads the needle ranks the answer first and gains from the
// needle exactly as set; a model that ignores the context ties every
// candidate (top-1 = chance) and gains nothing.
func TestScorePartial(t *testing.T) {
	for _, w := range Wordings {
		g := &Generator{Tok: byteTok{}, Seed: 3, Wording: w}
		for _, task := range []string{Passkey, NIAHSingle, NIAHMultiKey} {
			p, err := g.Generate(task, 2048, 0.5, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Distractors) != NumDistractors || p.Ablated == nil {
				t.Fatalf("%s: %d distractors, ablated %v", task, len(p.Distractors), p.Ablated != nil)
			}
			for _, d := range p.Distractors {
				if len(d) != len(p.Answers[0]) || d == p.Answers[0] || strings.Contains(p.Text, d) {
					t.Errorf("%s: distractor %q for answer %q (in prompt: %v)", task, d, p.Answers[0], strings.Contains(p.Text, d))
				}
			}
			ablated := byteTok{}.Decode(p.Ablated, true)
			if strings.Contains(ablated, p.Answers[0]) || len(p.Ablated) >= len(p.Tokens) {
				t.Errorf("%s: the ablated prompt still holds the answer", task)
			}
			n := float64(len(p.Answers[0]) + 1) // answer tokens: a space and the digits
			r := &reader{w: w}
			got, err := ScorePartial(r, byteTok{}, p)
			if err != nil {
				t.Fatal(err)
			}
			scores := []float64{readerHit * n}
			for range p.Distractors {
				scores = append(scores, readerMiss*n)
			}
			want := Partial{GoldLL: readerHit * n, Candidates: NumDistractors + 1, Rank: 1, Top1: 1, NeedleGain: (readerHit - readerMiss) * n, Scores: scores, Copy: 1}
			if !reflect.DeepEqual(*got, want) || r.scored != NumDistractors+2 {
				t.Errorf("%s %s reader: %+v after %d scorings, want %+v after %d", w.Name, task, *got, r.scored, want, NumDistractors+2)
			}
			blind, err := ScorePartial(&fakeScorer{}, byteTok{}, p)
			if err != nil {
				t.Fatal(err)
			}
			if blind.Top1 != 1/float64(NumDistractors+1) || blind.Rank != 1 || blind.NeedleGain >= 0 {
				// The ablated prompt is shorter, so the answer sits at
				// earlier positions, where the fake scorer's loss is lower.
				t.Errorf("%s blind: %+v, want a tie of all candidates and no gain", task, *blind)
			}
		}
	}
	p, _ := (&Generator{Tok: byteTok{}, Seed: 3}).Generate(CommonWords, 8192, 0, 0)
	if p.Distractors != nil || p.Ablated != nil {
		t.Error("cwe prompt carries distractors")
	}
	if _, err := ScorePartial(&reader{}, byteTok{}, p); err == nil {
		t.Error("ranking a cwe prompt: no error")
	}
}

// TestRunPartial checks the measures through Run and into the reports.
func TestRunPartial(t *testing.T) {
	opt := Options{Tasks: []string{Passkey, NIAHSingle, VariableTrack}, Lengths: []int{1024, 2048}, Depths: []float64{0, 1}, Samples: 3, Seed: 9, ModelName: "reader"}
	res, err := Run(context.Background(), &reader{w: HeldOutWording}, byteTok{}, opt)
	if err != nil {
		t.Fatal(err)
	}
	// 2 tasks × 2 lengths × (2 depths + over depths).
	if len(res.Partial) != 2*2*3 {
		t.Fatalf("%d partial cells, want 12: %+v", len(res.Partial), res.Partial)
	}
	for _, c := range res.Partial {
		digits := map[string]float64{Passkey: 5, NIAHSingle: 7}[c.Task]
		wantN := 3
		if c.Depth == nil {
			wantN = 6
		}
		if c.N != wantN || c.Top1 != 1 || math.Abs(c.Chance-0.1) > 1e-12 || c.GoldLL != readerHit*(digits+1) || c.NeedleGain != (readerHit-readerMiss)*(digits+1) {
			t.Errorf("cell %+v", c)
		}
	}
	for _, it := range res.Items {
		if (it.Partial != nil) != (it.Task != VariableTrack) {
			t.Errorf("%s item: partial %v", it.Task, it.Partial)
		}
	}
	md := Markdown(res)
	for _, want := range []string{"chance 10 %", "| passkey | 1k | 6 | 100.0 | 100.0 | +0.0 | -3.000 | +9.000 |", "| niah_single | 2k | 6 | 100.0 | 100.0 | +0.0 | -4.000 | +12.000 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	other := *res
	other.Model = "other"
	other.Partial = nil
	cmp := CompareMarkdown([]*Results{res, &other})
	for _, want := range []string{"passkey, top-1 rate of the gold answer among its distractors (%; chance 10 %; copy", "| reader | 100.0 | 100.0 |", "| other | – | – |",
		"| reader | 9.000 | 9.000 |", "| *copy baseline* | 100.0 | 100.0 |"} {
		if !strings.Contains(cmp, want) {
			t.Errorf("compare.md lacks %q:\n%s", want, cmp)
		}
	}
	if strings.Contains(cmp, "start model") {
		t.Errorf("compare.md without a start model shows differences from one:\n%s", cmp)
	}
}

// TestCompareStartModel checks the differences from the start model: a
// start model at half the reader's top-1 and accuracy gives the reader
// +50 pts on each.
func TestCompareStartModel(t *testing.T) {
	opt := Options{Tasks: []string{Passkey}, Lengths: []int{1024}, Depths: []float64{0, 1}, Samples: 2, Seed: 9, ModelName: "reader"}
	res, err := Run(context.Background(), &reader{w: HeldOutWording}, byteTok{}, opt)
	if err != nil {
		t.Fatal(err)
	}
	start := *res
	start.Model = StartModel
	start.Items = slices.Clone(res.Items)
	for i := range start.Items {
		p := *start.Items[i].Partial
		if i%2 == 0 {
			start.Items[i].Score, p.Top1 = 0, 0
		}
		start.Items[i].Partial = &p
	}
	start.Aggregate()
	cmp := CompareMarkdown([]*Results{&start, res})
	for _, want := range []string{"Mean accuracy minus the start model's", "| reader | 50.0 | 50.0 |",
		"passkey, top-1 rate minus the start model's (pts):\n\n| model | 1k |\n|---|---:|\n| reader | +50.0 |\n"} {
		if !strings.Contains(cmp, want) {
			t.Errorf("compare.md lacks %q:\n%s", want, cmp)
		}
	}
}

// TestComparePPLStart checks the perplexity table's loss difference from
// the start model (and "–" without one).
func TestComparePPLStart(t *testing.T) {
	mk := func(name string, nll float64) *Results {
		return &Results{Model: name, PPL: &PPLResult{Source: "s", Length: 2048, Sequences: 1, Buckets: []PPLBucket{{From: 1024, To: 2048, NLL: nll, PPL: math.Exp(nll)}}}}
	}
	cmp := CompareMarkdown([]*Results{mk(StartModel, 4.5), mk("merge", 4.25)})
	if !strings.Contains(cmp, "| merge | s | 1 × 2048 | 1024–2047 | 70.105 | -0.2500 |") || !strings.Contains(cmp, "| start | s | 1 × 2048 | 1024–2047 | 90.017 | +0.0000 |") {
		t.Errorf("compare.md:\n%s", cmp)
	}
	if cmp := CompareMarkdown([]*Results{mk("base", 4.5)}); !strings.Contains(cmp, "| 90.017 | – |") {
		t.Errorf("compare.md without a start model:\n%s", cmp)
	}
}
