package experiment

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/plot"
)

// A claim is one statement of the paper that the experiment checks: a
// value computed on one seed's results, and the rule that decides, from
// the interval of that value over seeds, whether the claim holds.
type claim struct {
	ID    string
	Text  string
	Paper string
	// Measure says what value is, in words.
	Measure string
	value   func(r *Results) float64
	// atLeast / atMost: the claim holds when the whole interval is at
	// least / at most the bound, fails when the whole interval is on the
	// other side, and is undecided otherwise.
	bound   float64
	atLeast bool
	format  func(v float64) string
}

// Retrieval in the claims is the top-1 rate of the gold answer among 10
// candidates (chance 0.1) over passkey and niah_single at the lengths
// above the base window; greedy exact match is too coarse at this scale
// (0 almost everywhere) to compare methods. Ratios of retrieval use the
// rate above chance, so two models at chance do not "match".
const chance = 0.1

// ev returns the model name's value of f on r, NaN when it is missing or
// not evaluated.
func ev(r *Results, name RunName, f func(m *ModelResult) float64) float64 {
	m := r.model(name)
	if m == nil || !m.Evaluated {
		return math.NaN()
	}
	return f(m)
}

func top1(m *ModelResult) float64     { return m.LongTop1 }
func lastPPL(m *ModelResult) float64  { return m.LastPPL }
func shortPPL(m *ModelResult) float64 { return m.ShortPPL }

// aboveChanceRatio is (a − chance)/(b − chance), NaN when b is at or below
// chance.
func aboveChanceRatio(a, b float64) float64 {
	if !(b > chance) {
		return math.NaN()
	}
	return (a - chance) / (b - chance)
}

// flops returns the training FLOPs of a stage-1 model.
func flops(m *ModelResult) float64 {
	if m.Training == nil {
		return math.NaN()
	}
	return m.Training.FLOPs
}

func pctf(v float64) string   { return fmt.Sprintf("%.1f %%", 100*v) }
func ptsf(v float64) string   { return fmt.Sprintf("%+.1f pts", 100*v) }
func plainf(v float64) string { return fmt.Sprintf("%.3f", v) }

// claims are the issue-15 targets, then the controls.
var claims = []claim{
	{ID: "seq-retrieval", Text: "LongRecipe 30 % reaches ≥ 90 % of FLT's retrieval at equal sequences",
		Paper: "NIAH(M) 78.9 vs 82.3 (96 %)", Measure: "LongRecipe 30 % / FLT (equal sequences), long-context top-1 rate above chance",
		value: func(r *Results) float64 {
			return aboveChanceRatio(ev(r, LongRecipe30, top1), ev(r, FLTSequences, top1))
		}, bound: 0.9, atLeast: true, format: pctf},
	{ID: "seq-ppl", Text: "LongRecipe 30 % reaches ≥ 90 % of FLT's long-position perplexity at equal sequences",
		Paper: "(long-document perplexity is not reported)", Measure: "FLT ppl / LongRecipe ppl, positions Lt/2…Lt (held-out documents)",
		value: func(r *Results) float64 { return ev(r, FLTSequences, lastPPL) / ev(r, LongRecipe30, lastPPL) },
		bound: 0.9, atLeast: true, format: pctf},
	{ID: "seq-flops", Text: "… with ≤ 30 % of FLT's training FLOPs (equal sequences)",
		Paper: "\"> 85 % less\" compute than FLT", Measure: "LongRecipe 30 % / FLT (equal sequences), analytic training FLOPs",
		value: func(r *Results) float64 { return ev(r, LongRecipe30, flops) / ev(r, FLTSequences, flops) },
		bound: 0.3, format: pctf},
	{ID: "tok-pose", Text: "At equal tokens LongRecipe 30 % beats PoSE (retrieval)",
		Paper: "NIAH(M) 78.9 vs 68.8", Measure: "LongRecipe 30 % − PoSE, long-context top-1 rate",
		value: func(r *Results) float64 { return ev(r, LongRecipe30, top1) - ev(r, PoSE, top1) },
		bound: 0, atLeast: true, format: ptsf},
	{ID: "tok-randpos", Text: "At equal tokens LongRecipe 30 % beats RandPos (retrieval)",
		Paper: "NIAH(M) 78.9 vs 71.8", Measure: "LongRecipe 30 % − RandPos, long-context top-1 rate",
		value: func(r *Results) float64 { return ev(r, LongRecipe30, top1) - ev(r, RandPos, top1) },
		bound: 0, atLeast: true, format: ptsf},
	{ID: "merge-short", Text: "The merged model's short-context perplexity is within 2 % of the base's",
		Paper: "merge restores general ability (MMLU 63.0 vs original 65.7)", Measure: "LongRecipe 30 % + replay + merge short ppl / base − 1",
		value: func(r *Results) float64 { return ev(r, LongRecipe30Merge, shortPPL)/ev(r, Base, shortPPL) - 1 },
		bound: 0.02, format: func(v float64) string { return fmt.Sprintf("%+.1f %%", 100*v) }},
	{ID: "control-start", Text: "Control: training, not the raised θ alone, fixes long-position perplexity",
		Paper: "(implicit)", Measure: "start model ppl / LongRecipe 30 % ppl, positions Lt/2…Lt",
		value: func(r *Results) float64 { return ev(r, Start, lastPPL) / ev(r, LongRecipe30, lastPPL) },
		bound: 1, atLeast: true, format: plainf},
	{ID: "control-noselect", Text: "Control: digit selection beats no selection (same positions)",
		Paper: "without token analysis 71.9 vs 78.9", Measure: "LongRecipe 30 % − without selection, long-context top-1 rate",
		value: func(r *Results) float64 { return ev(r, LongRecipe30, top1) - ev(r, LongRecipe30NoSelect, top1) },
		bound: 0, atLeast: true, format: ptsf},
	{ID: "control-random", Text: "Control: digit selection beats random drops at the same kept fraction",
		Paper: "random sentence selection 70.1 vs 78.9", Measure: "LongRecipe 30 % − random drops, long-context top-1 rate",
		value: func(r *Results) float64 { return ev(r, LongRecipe30, top1) - ev(r, LongRecipe30Random, top1) },
		bound: 0, atLeast: true, format: ptsf},
	{ID: "control-analysis", Text: "Control: the analysis-derived impactful set does at least as well as digits",
		Paper: "(the released code uses digits)", Measure: "analysis set − digits, long-context top-1 rate",
		value: func(r *Results) float64 { return ev(r, LongRecipe30Analysis, top1) - ev(r, LongRecipe30, top1) },
		bound: 0, atLeast: true, format: ptsf},
	{ID: "ratio-30", Text: "Kept-token ratio: 30 % beats 10, 20 and 40 %",
		Paper: "NIAH(M) 65.3 / 70.9 / 78.9 / 72.0", Measure: "LongRecipe 30 % − the best of 10/20/40 %, long-context top-1 rate",
		value: func(r *Results) float64 {
			best := math.Inf(-1)
			for _, n := range []RunName{LongRecipe10, LongRecipe20, LongRecipe40} {
				best = math.Max(best, ev(r, n, top1))
			}
			return ev(r, LongRecipe30, top1) - best
		}, bound: 0, atLeast: true, format: ptsf},
}

// verdict decides a claim from its interval: "yes" when the whole
// interval is on the claimed side of the bound, "no" when the whole
// interval is on the other side, "undecided" otherwise; with one seed the
// mean decides, marked "(1 seed)"; "n/a" when nothing was measured.
func (c claim) verdict(iv Interval) (string, *bool) {
	if iv.N == 0 {
		return "n/a", nil
	}
	lo, hi := iv.Lo(), iv.Hi()
	suffix := ""
	if iv.N == 1 {
		lo, hi, suffix = iv.Mean, iv.Mean, " (1 seed)"
	}
	good := func(v float64) bool { return (c.atLeast && v >= c.bound) || (!c.atLeast && v <= c.bound) }
	yes, no := true, false
	switch {
	case good(lo) && good(hi):
		return "yes" + suffix, &yes
	case !good(lo) && !good(hi):
		return "**no**" + suffix, &no
	}
	return "undecided (interval straddles the bound)", nil
}

// measured formats an interval: mean ± half-width [per-seed values].
func (c claim) measured(iv Interval) string {
	if iv.N == 0 {
		return "not measured"
	}
	s := c.format(iv.Mean)
	if iv.N > 1 {
		s += " ± " + strings.TrimPrefix(c.format(iv.HalfWidth), "+")
	}
	var vs []string
	for _, v := range iv.Values {
		vs = append(vs, c.format(v))
	}
	s += " (n = " + fmt.Sprint(iv.N) + ": " + strings.Join(vs, ", ") + ")"
	if iv.Missing > 0 {
		s += fmt.Sprintf("; undefined on %d seed(s)", iv.Missing)
	}
	return s
}

// target is the claim's row for the command line and the per-seed report.
func (c claim) target(iv Interval) Target {
	_, met := c.verdict(iv)
	return Target{Claim: c.Text, Measured: c.measured(iv), Value: finite(iv.Mean), Met: met}
}

// ClaimResult is one row of the claim table.
type ClaimResult struct {
	ID       string   `json:"id"`
	Claim    string   `json:"claim"`
	Paper    string   `json:"paper"`
	Measure  string   `json:"measure"`
	Interval Interval `json:"interval"`
	Ours     string   `json:"ours"`
	Holds    string   `json:"holds"`
}

// Summary is the experiment over seeds: Output/results.json.
type Summary struct {
	Command string `json:"command"`
	// Seeds are the seeds run; Settings those of the first.
	Seeds    []int64        `json:"seeds"`
	Settings Settings       `json:"settings"`
	Claims   []ClaimResult  `json:"claims"`
	Models   []ModelSummary `json:"models"`
	// Targets are the claims as the command line prints them.
	Targets []Target `json:"-"`
	// PerSeed holds each seed's results (in Output/seed-N).
	PerSeed []*Results `json:"-"`
}

// ModelSummary is one model's main numbers over seeds.
type ModelSummary struct {
	Name         RunName  `json:"name"`
	Label        string   `json:"label"`
	LongAccuracy Interval `json:"long_accuracy"`
	LongTop1     Interval `json:"long_top1"`
	NeedleGain   Interval `json:"long_needle_gain"`
	LastPPL      Interval `json:"last_ppl"`
	ShortPPL     Interval `json:"short_ppl"`
	FLOPs        Interval `json:"train_flops"`
}

// summarize computes the claim table and the model summaries over the
// seeds' results.
func summarize(o Options, per []*Results) *Summary {
	s := &Summary{Command: o.Command, PerSeed: per}
	if len(per) > 0 {
		s.Settings = per[0].Settings
	}
	for _, r := range per {
		s.Seeds = append(s.Seeds, r.Seed)
	}
	for _, c := range claims {
		var vs []float64
		for _, r := range per {
			vs = append(vs, c.value(r))
		}
		iv := tInterval(vs)
		holds, _ := c.verdict(iv)
		s.Claims = append(s.Claims, ClaimResult{ID: c.ID, Claim: c.Text, Paper: c.Paper, Measure: c.Measure, Interval: iv, Ours: c.measured(iv), Holds: holds})
		s.Targets = append(s.Targets, c.target(iv))
	}
	for _, name := range order {
		var ms []*ModelResult
		for _, r := range per {
			if m := r.model(name); m != nil && m.Evaluated {
				ms = append(ms, m)
			}
		}
		if len(ms) == 0 {
			continue
		}
		over := func(f func(m *ModelResult) float64) Interval {
			var vs []float64
			for _, m := range ms {
				vs = append(vs, f(m))
			}
			return tInterval(vs)
		}
		s.Models = append(s.Models, ModelSummary{Name: name, Label: ms[0].Label,
			LongAccuracy: over(func(m *ModelResult) float64 { return m.LongAccuracy }),
			LongTop1:     over(top1), NeedleGain: over(func(m *ModelResult) float64 { return m.LongNeedleGain }),
			LastPPL: over(lastPPL), ShortPPL: over(shortPPL), FLOPs: over(flops)})
	}
	return s
}

// write writes results.json and results.md of the summary into dir.
func (s *Summary) write(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("experiment: encode summary: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultsJSON), append(b, '\n')); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultsMD), []byte(s.Markdown())); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	return s.charts(dir)
}

// The summary's charts: the long-context top-1 rate (mean over seeds) of
// each method by stage, and of the controls and ratios.
const (
	MethodsPlot  = "top1_methods.png"
	ControlsPlot = "top1_controls.png"
)

// charts draws MethodsPlot and ControlsPlot from the model summaries.
func (s *Summary) charts(dir string) error {
	byName := map[RunName]ModelSummary{}
	for _, m := range s.Models {
		byName[m.Name] = m
	}
	top1 := func(n RunName) float64 {
		if m, ok := byName[n]; ok && m.LongTop1.N > 0 {
			return 100 * m.LongTop1.Mean
		}
		return math.NaN()
	}
	title := fmt.Sprintf("top-1 rate of the gold answer among 10 above the base window (chance 10 %%), mean over %d seed(s)", len(s.Seeds))
	methods := &plot.BarChart{Title: "Methods: " + title, XLabel: "method", YLabel: "top-1 rate (%)", Width: 1100,
		Categories: []string{"LongRecipe 30 %", "FLT (equal seq.)", "FLT (equal tokens)", "PoSE", "RandPos"}}
	runs := []RunName{LongRecipe30, FLTSequences, FLT, PoSE, RandPos}
	for _, st := range []struct {
		name string
		of   func(RunName) RunName
	}{
		{"stage 1", func(n RunName) RunName { return n }},
		{"after replay", RunName.afterReplay},
		{"after merge", RunName.afterMerge},
	} {
		sr := plot.Series{Name: st.name}
		for _, n := range runs {
			sr.Y = append(sr.Y, top1(st.of(n)))
		}
		methods.Series = append(methods.Series, sr)
	}
	controls := &plot.BarChart{Title: "Controls and ratios (stage 1): " + title, XLabel: "model", YLabel: "top-1 rate (%)", Width: 1100,
		Categories: []string{"base", "start (θ only)", "LR 30 % digits", "no selection", "random drops", "analysis set", "LR 10 %", "LR 20 %", "LR 40 %"}}
	sr := plot.Series{Name: "stage 1"}
	for _, n := range []RunName{Base, Start, LongRecipe30, LongRecipe30NoSelect, LongRecipe30Random, LongRecipe30Analysis, LongRecipe10, LongRecipe20, LongRecipe40} {
		sr.Y = append(sr.Y, top1(n))
	}
	controls.Series = []plot.Series{sr}
	for file, c := range map[string]*plot.BarChart{MethodsPlot: methods, ControlsPlot: controls} {
		if err := c.SavePNG(filepath.Join(dir, file)); err != nil {
			return fmt.Errorf("experiment: %s: %w", file, err)
		}
	}
	return nil
}

// Markdown renders the claim table and the models' numbers over seeds.
func (s *Summary) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# LongRecipe miniature reproduction: claims over %d seed(s)\n\n", len(s.Seeds))
	p("Command: `%s`  \nSeeds: %s (each seed's report: `seed-N/results.md`)\n\n", s.Command, joinSeeds(s.Seeds))
	if s.Settings.Quick {
		p("**Quick settings: a smoke test of the harness; the numbers mean nothing.**\n\n")
	}
	p("Ours is the mean over seeds ± the half-width of the 95 %% t-interval over seeds (t(0.975, n−1)·s/√n, s the\n")
	p("sample standard deviation of the per-seed values, listed in brackets). A claim holds when the whole interval is on\n")
	p("its side of the bound, fails when the whole interval is on the other side, and is undecided otherwise.\n")
	p("Retrieval is the top-1 rate of the gold answer among 10 candidates by log-likelihood (chance 10 %%), over passkey\n")
	p("and niah_single at the lengths above the base window, in the evaluation's held-out wording; ratios of\n")
	p("retrieval use the rate above chance. FLT at equal sequences trains as many rows as LongRecipe 30 %%.\n\n")
	p("| claim | paper | ours (mean ± 95 %% interval) | holds? |\n|---|---|---|---|\n")
	for _, c := range s.Claims {
		p("| %s<br>*%s* | %s | %s | %s |\n", c.Claim, c.Measure, c.Paper, c.Ours, c.Holds)
	}
	p("\nCharts: [%s](%s) (each method by stage) and [%s](%s) (controls and ratios): the long-context top-1 rate, mean over seeds.\n", MethodsPlot, MethodsPlot, ControlsPlot, ControlsPlot)
	p("\n## Models (mean ± 95 %% interval over seeds)\n\n")
	p("| model | long greedy acc (%%) | long top-1 (%%) | needle gain (nats) | ppl Lt/2…Lt | short ppl | train FLOPs |\n|---|---|---|---|---|---|---|\n")
	for _, m := range s.Models {
		p("| %s | %s | %s | %s | %s | %s | %s |\n", m.Label, ivf(m.LongAccuracy, 100, "%.1f"), ivf(m.LongTop1, 100, "%.1f"),
			ivf(m.NeedleGain, 1, "%.2f"), ivf(m.LastPPL, 1, "%.2f"), ivf(m.ShortPPL, 1, "%.2f"), ivf(m.FLOPs, 1, "%.3g"))
	}
	return b.String()
}

// ivf formats an interval scaled by k: "mean ± hw", "mean" for one seed,
// "–" for none.
func ivf(iv Interval, k float64, f string) string {
	switch {
	case iv.N == 0:
		return "–"
	case iv.N == 1:
		return fmt.Sprintf(f, k*iv.Mean)
	}
	return fmt.Sprintf(f+" ± "+f, k*iv.Mean, k*iv.HalfWidth)
}

func joinSeeds(v []int64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
