package experiment

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/plot"
)

// A claim is one statement of the paper that the experiment checks: a
// value computed on one seed's results for the models at one stage, and
// the rule that decides, from the intervals of that value (over seeds, and
// by a paired bootstrap over prompts and documents), whether it holds.
type claim struct {
	ID    string
	Text  string
	Paper string
	// Measure says what value is, in words.
	Measure string
	// value computes the claim on one seed; at maps a stage-1 run to the
	// model judged (its merged model in the final table; Base and Start
	// map to themselves).
	value func(r *Results, at func(RunName) RunName) float64
	// atLeast / atMost: the claim holds when the whole interval is at
	// least / at most the bound (strictly above it when strict: "beats"
	// is not met by a tie), fails when the whole interval is on the
	// other side, and is undecided otherwise.
	bound   float64
	atLeast bool
	strict  bool
	format  func(v float64) string
	// finalOnly claims are about merged models (no stage-1 row).
	finalOnly bool
}

// The tables of claims: the final (merged) models, as the paper reports
// them, and the stage-1 models.
var (
	finalStage = func(n RunName) RunName {
		if n == Base || n == Start {
			return n
		}
		return n.afterMerge()
	}
	firstStage = func(n RunName) RunName { return n }
)

// Retrieval in the claims is the top-1 rate of the gold answer among 10
// candidates over the claim tasks (Results.ClaimTasks: the decoy tasks,
// whose copy baseline is at most eval.MaxClaimCopy) at the lengths above
// the base window. Ratios of retrieval use the rate above the copy
// baseline, so two models that only copy do not "match".

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
func lastNLL(m *ModelResult) float64  { return math.Log(m.LastPPL) }
func shortPPL(m *ModelResult) float64 { return m.ShortPPL }

// copyLevel is the copy baseline of the seed's claim prompts (the same
// for every model; read from the start model).
func copyLevel(r *Results) float64 {
	return ev(r, Start, func(m *ModelResult) float64 { return m.LongCopy })
}

// aboveCopyRatio is (a − copy)/(b − copy), NaN when b is at or below the
// copy baseline.
func aboveCopyRatio(a, b, copy float64) float64 {
	if !(b > copy) {
		return math.NaN()
	}
	return (a - copy) / (b - copy)
}

// gapShare is the share of the start model's long-position loss gap to
// ref that m closes, in nats: (NLL start − NLL m)/(NLL start − NLL ref);
// NaN when ref does not improve on the start model.
func gapShare(r *Results, m, ref RunName) float64 {
	s, a, b := ev(r, Start, lastNLL), ev(r, m, lastNLL), ev(r, ref, lastNLL)
	if !(s-b > 0) {
		return math.NaN()
	}
	return (s - a) / (s - b)
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
func natsf(v float64) string  { return fmt.Sprintf("%+.3f nats", v) }
func plainf(v float64) string { return fmt.Sprintf("%.3f", v) }

// diff is a claim value: top-1 of a − top-1 of b at the table's stage.
func diff(a, b RunName) func(r *Results, at func(RunName) RunName) float64 {
	return func(r *Results, at func(RunName) RunName) float64 { return ev(r, at(a), top1) - ev(r, at(b), top1) }
}

// claims are the paper's statements, then the controls. None holds by
// construction: the FLOPs ratio, fixed by the kept-token ratio, is
// printed as arithmetic (Summary.FLOPs), not judged.
var claims = []claim{
	{ID: "seq-retrieval", Text: "LongRecipe 30 % reaches ≥ 90 % of FLT's retrieval at equal sequences",
		Paper: "NIAH(M) 78.9 vs 82.3 (96 %)", Measure: "LongRecipe 30 % / FLT (equal sequences), top-1 above the copy baseline",
		value: func(r *Results, at func(RunName) RunName) float64 {
			return aboveCopyRatio(ev(r, at(LongRecipe30), top1), ev(r, at(FLTSequences), top1), copyLevel(r))
		}, bound: 0.9, atLeast: true, format: pctf},
	{ID: "seq-ppl", Text: "LongRecipe 30 % closes ≥ 90 % of the start model's long-position loss gap to FLT (equal sequences)",
		Paper: "(long-document perplexity is not reported)", Measure: "(NLL start − NLL LongRecipe)/(NLL start − NLL FLT), nats, positions Lt/2…Lt",
		value: func(r *Results, at func(RunName) RunName) float64 {
			return gapShare(r, at(LongRecipe30), at(FLTSequences))
		},
		bound: 0.9, atLeast: true, format: pctf},
	{ID: "vs-start", Text: "LongRecipe 30 % retrieves better than the start model (θ raised, untrained)",
		Paper: "(implicit: training is what extends the window)", Measure: "LongRecipe 30 % − start model, top-1",
		value: diff(LongRecipe30, Start), bound: 0, atLeast: true, strict: true, format: ptsf},
	{ID: "vs-start-ppl", Text: "LongRecipe 30 % has a lower long-position loss than the start model",
		Paper: "(implicit)", Measure: "NLL start − NLL LongRecipe 30 %, positions Lt/2…Lt",
		value: func(r *Results, at func(RunName) RunName) float64 {
			return ev(r, Start, lastNLL) - ev(r, at(LongRecipe30), lastNLL)
		}, bound: 0, atLeast: true, strict: true, format: natsf},
	{ID: "tok-pose", Text: "At equal tokens LongRecipe 30 % beats PoSE (retrieval)",
		Paper: "NIAH(M) 78.9 vs 68.8", Measure: "LongRecipe 30 % − PoSE, top-1",
		value: diff(LongRecipe30, PoSE), bound: 0, atLeast: true, strict: true, format: ptsf},
	{ID: "tok-randpos", Text: "At equal tokens LongRecipe 30 % beats RandPos (retrieval)",
		Paper: "NIAH(M) 78.9 vs 71.8", Measure: "LongRecipe 30 % − RandPos, top-1",
		value: diff(LongRecipe30, RandPos), bound: 0, atLeast: true, strict: true, format: ptsf},
	{ID: "merge-short", Text: "The merged model's short-context perplexity is within 2 % of the base's",
		Paper: "merge restores general ability (MMLU 63.0 vs original 65.7)", Measure: "LongRecipe 30 % + replay + merge short ppl / base − 1",
		value: func(r *Results, at func(RunName) RunName) float64 {
			return ev(r, at(LongRecipe30), shortPPL)/ev(r, Base, shortPPL) - 1
		}, bound: 0.02, format: func(v float64) string { return fmt.Sprintf("%+.1f %%", 100*v) }, finalOnly: true},
	{ID: "control-noselect", Text: "Control: digit selection beats no selection (same positions)",
		Paper: "without token analysis 71.9 vs 78.9", Measure: "LongRecipe 30 % − without selection, top-1",
		value: diff(LongRecipe30, LongRecipe30NoSelect), bound: 0, atLeast: true, strict: true, format: ptsf},
	{ID: "control-random", Text: "Control: digit selection beats random drops at the same kept fraction",
		Paper: "random sentence selection 70.1 vs 78.9", Measure: "LongRecipe 30 % − random drops, top-1",
		value: diff(LongRecipe30, LongRecipe30Random), bound: 0, atLeast: true, strict: true, format: ptsf},
	{ID: "control-analysis", Text: "Control: the analysis-derived impactful set does at least as well as digits",
		Paper: "(the released code uses digits)", Measure: "analysis set − digits, top-1",
		value: diff(LongRecipe30Analysis, LongRecipe30), bound: 0, atLeast: true, format: ptsf},
	{ID: "ratio-30", Text: "Kept-token ratio: 30 % beats 10, 20 and 40 % (equal steps)",
		Paper: "NIAH(M) 65.3 / 70.9 / 78.9 / 72.0", Measure: "LongRecipe 30 % − the best of 10/20/40 %, top-1",
		value: func(r *Results, at func(RunName) RunName) float64 {
			best := math.Inf(-1)
			for _, n := range []RunName{LongRecipe10, LongRecipe20, LongRecipe40} {
				best = math.Max(best, ev(r, at(n), top1))
			}
			return ev(r, at(LongRecipe30), top1) - best
		}, bound: 0, atLeast: true, strict: true, format: ptsf},
}

// verdict decides a claim from its interval over seeds and its paired
// bootstrap interval: "yes" when both are wholly on the claimed side of
// the bound, "no" when both are wholly on the other side, "undecided"
// otherwise or when the value is undefined on some seed; with one seed
// the mean stands for the seed interval, marked "(1 seed)"; without
// bootstrap data the seed interval decides alone; "n/a" when nothing was
// measured.
func (c claim) verdict(iv Interval, bs Bootstrap) (string, *bool) {
	if iv.N == 0 {
		return "n/a", nil
	}
	lo, hi := iv.Lo(), iv.Hi()
	suffix := ""
	if iv.N == 1 {
		lo, hi, suffix = iv.Mean, iv.Mean, " (1 seed)"
	}
	good := func(v float64) bool {
		if c.strict {
			return c.atLeast && v > c.bound || !c.atLeast && v < c.bound
		}
		return c.atLeast && v >= c.bound || !c.atLeast && v <= c.bound
	}
	if iv.Missing > 0 {
		return fmt.Sprintf("undecided (undefined on %d seed(s))", iv.Missing), nil
	}
	side := func(lo, hi float64) int { // 1: claimed side, -1: other side, 0: straddles
		switch {
		case good(lo) && good(hi):
			return 1
		case !good(lo) && !good(hi):
			return -1
		}
		return 0
	}
	s := side(lo, hi)
	if !math.IsNaN(bs.Lo) && bs.N > 0 && side(bs.Lo, bs.Hi) != s {
		s = 0
	}
	yes, no := true, false
	switch s {
	case 1:
		return "yes" + suffix, &yes
	case -1:
		return "**no**" + suffix, &no
	}
	return "undecided (an interval straddles the bound)", nil
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

// boot formats a bootstrap interval.
func (c claim) boot(bs Bootstrap) string {
	if math.IsNaN(bs.Lo) || bs.N == 0 {
		return "–"
	}
	return "[" + c.format(bs.Lo) + ", " + c.format(bs.Hi) + "]"
}

// target is the claim's row for the command line and the per-seed report.
func (c claim) target(iv Interval, bs Bootstrap) Target {
	holds, met := c.verdict(iv, bs)
	return Target{Claim: c.Text, Measured: c.measured(iv), Value: finite(iv.Mean), Met: met, Holds: holds}
}

// ClaimResult is one row of a claim table.
type ClaimResult struct {
	ID        string    `json:"id"`
	Claim     string    `json:"claim"`
	Paper     string    `json:"paper"`
	Measure   string    `json:"measure"`
	Interval  Interval  `json:"interval"`
	Bootstrap Bootstrap `json:"bootstrap"`
	Ours      string    `json:"ours"`
	Boot      string    `json:"bootstrap_interval"`
	Holds     string    `json:"holds"`
}

// Summary is the experiment over seeds: Output/results.json.
type Summary struct {
	Command string `json:"command"`
	// Seeds are the seeds run; Settings those of the first.
	Seeds    []int64  `json:"seeds"`
	Settings Settings `json:"settings"`
	// Claims judge the final (merged) models; Stage1Claims the same
	// claims on the stage-1 models.
	Claims       []ClaimResult `json:"claims"`
	Stage1Claims []ClaimResult `json:"stage1_claims"`
	// ClaimTasks are the tasks retrieval claims use (copy baseline ≤
	// eval.MaxClaimCopy), and CopyBaseline their copy baseline over seeds.
	ClaimTasks   []string `json:"claim_tasks"`
	CopyBaseline Interval `json:"copy_baseline"`
	// FLOPsRatio is LongRecipe 30 %'s stage-1 training FLOPs over FLT's
	// at equal sequences: arithmetic of the kept-token ratio, not a
	// finding, so it is printed, not judged.
	FLOPsRatio Interval       `json:"flops_ratio_equal_sequences"`
	Models     []ModelSummary `json:"models"`
	// Targets are the final-model claims as the command line prints them.
	Targets []Target `json:"-"`
	// PerSeed holds each seed's results (in Output/seed-N).
	PerSeed []*Results `json:"-"`
}

// ModelSummary is one model's main numbers over seeds; the VsStart
// intervals are of its per-seed difference from the start model.
type ModelSummary struct {
	Name         RunName  `json:"name"`
	Label        string   `json:"label"`
	LongAccuracy Interval `json:"long_accuracy"`
	LongTop1     Interval `json:"long_top1"`
	ReachTop1    Interval `json:"reach_top1"`
	NeedleGain   Interval `json:"long_needle_gain"`
	LastPPL      Interval `json:"last_ppl"`
	ShortPPL     Interval `json:"short_ppl"`
	FLOPs        Interval `json:"train_flops"`
	Top1VsCopy   Interval `json:"top1_vs_copy"`
	Top1VsStart  Interval `json:"top1_vs_start"`
	NLLVsStart   Interval `json:"last_nll_vs_start"`
}

// summarize computes the claim tables and the model summaries over the
// seeds' results.
func summarize(o Options, per []*Results) *Summary {
	s := &Summary{Command: o.Command, PerSeed: per}
	if len(per) > 0 {
		s.Settings = per[0].Settings
		s.ClaimTasks = per[0].ClaimTasks
	}
	var copies, ratios []float64
	for _, r := range per {
		s.Seeds = append(s.Seeds, r.Seed)
		copies = append(copies, copyLevel(r))
		ratios = append(ratios, ev(r, LongRecipe30, flops)/ev(r, FLTSequences, flops))
	}
	s.CopyBaseline, s.FLOPsRatio = tInterval(copies), tInterval(ratios)
	tables := []func(RunName) RunName{finalStage, firstStage}
	boots := bootstrapClaims(per, tables)
	for t, at := range tables {
		for i, c := range claims {
			if c.finalOnly && t > 0 {
				continue
			}
			var vs []float64
			for _, r := range per {
				vs = append(vs, c.value(r, at))
			}
			iv, bs := tInterval(vs), boots[t][i]
			holds, _ := c.verdict(iv, bs)
			row := ClaimResult{ID: c.ID, Claim: c.Text, Paper: c.Paper, Measure: c.Measure, Interval: iv, Bootstrap: bs, Ours: c.measured(iv), Boot: c.boot(bs), Holds: holds}
			if t == 0 {
				s.Claims = append(s.Claims, row)
				s.Targets = append(s.Targets, c.target(iv, bs))
			} else {
				s.Stage1Claims = append(s.Stage1Claims, row)
			}
		}
	}
	for _, name := range order {
		if ms := s.modelSummary(name, per); ms != nil {
			s.Models = append(s.Models, *ms)
		}
	}
	return s
}

// modelSummary returns the numbers of model name over the seeds that
// evaluated it (nil when none did).
func (s *Summary) modelSummary(name RunName, per []*Results) *ModelSummary {
	var ms []*ModelResult
	var rs []*Results
	for _, r := range per {
		if m := r.model(name); m != nil && m.Evaluated {
			ms, rs = append(ms, m), append(rs, r)
		}
	}
	if len(ms) == 0 {
		return nil
	}
	over := func(f func(i int, m *ModelResult) float64) Interval {
		var vs []float64
		for i, m := range ms {
			vs = append(vs, f(i, m))
		}
		return tInterval(vs)
	}
	of := func(f func(m *ModelResult) float64) func(int, *ModelResult) float64 {
		return func(_ int, m *ModelResult) float64 { return f(m) }
	}
	return &ModelSummary{Name: name, Label: ms[0].Label,
		LongAccuracy: over(of(func(m *ModelResult) float64 { return m.LongAccuracy })),
		LongTop1:     over(of(top1)), ReachTop1: over(of(func(m *ModelResult) float64 { return m.ReachTop1 })),
		NeedleGain: over(of(func(m *ModelResult) float64 { return m.LongNeedleGain })),
		LastPPL:    over(of(lastPPL)), ShortPPL: over(of(shortPPL)), FLOPs: over(of(flops)),
		Top1VsCopy:  over(of(func(m *ModelResult) float64 { return m.LongTop1 - m.LongCopy })),
		Top1VsStart: over(func(i int, m *ModelResult) float64 { return m.LongTop1 - ev(rs[i], Start, top1) }),
		NLLVsStart:  over(func(i int, m *ModelResult) float64 { return lastNLL(m) - ev(rs[i], Start, lastNLL) }),
	}
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
	title := fmt.Sprintf("top-1 over the claim tasks above the base window (copy baseline %s), mean over %d seed(s)", ivf(s.CopyBaseline, 100, "%.0f %%"), len(s.Seeds))
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

// Markdown renders the claim tables and the models' numbers over seeds.
func (s *Summary) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# LongRecipe miniature reproduction: claims over %d seed(s)\n\n", len(s.Seeds))
	p("Command: `%s`  \nSeeds: %s (each seed's report: `seed-N/results.md`)\n\n", s.Command, joinSeeds(s.Seeds))
	if s.Settings.Quick {
		p("**Quick settings: a smoke test of the harness; the numbers mean nothing.**\n\n")
	}
	p("Ours is the mean over seeds ± the half-width of the 95 %% t-interval over seeds (t(0.975, n−1)·s/√n, s the\n")
	p("sample standard deviation of the per-seed values, listed in brackets). Bootstrap is the 95 %% percentile interval of\n")
	p("the same mean under a paired bootstrap (%d draws) that resamples the prompts and the perplexity documents of every\n", Resamples)
	p("seed, the same draw for every model. A claim holds when both intervals are wholly on its side of the bound, fails\n")
	p("when both are wholly on the other side, and is undecided otherwise.\n\n")
	p("Retrieval is the top-1 rate of the gold answer among 10 candidates by log-likelihood, over the claim tasks (%s)\n", strings.Join(s.ClaimTasks, ", "))
	p("at the lengths above the base window, in the evaluation's held-out wording. Only tasks whose copy baseline — the\n")
	p("expected top-1 of the no-model rule \"pick a candidate found in the prompt\" — is at most %.0f %% are claim tasks;\n", 100*eval.MaxClaimCopy)
	p("theirs is %s. Ratios of retrieval use the rate above the copy baseline. Perplexity claims compare the mean loss\n", ivf(s.CopyBaseline, 100, "%.1f %%"))
	p("(nats) of positions Lt/2…Lt. The start model is the base with θ raised and the window set, untrained.\n")
	p("FLT at equal sequences trains as many rows as LongRecipe 30 %%.\n\n")
	p("## Final models (after replay and merge)\n\n")
	claimTable(&b, s.Claims)
	p("\n## Stage-1 models (before replay and merge)\n\n")
	claimTable(&b, s.Stage1Claims)
	p("\nArithmetic, not a finding: LongRecipe 30 %%'s stage-1 training FLOPs are %s of FLT's at equal sequences — set by\n", ivf(s.FLOPsRatio, 100, "%.1f %%"))
	p("training rows of 30 %% of Lt, so it is not judged.\n")
	p("\nCharts: [%s](%s) (each method by stage) and [%s](%s) (controls and ratios): top-1 over the claim tasks, mean over seeds.\n", MethodsPlot, MethodsPlot, ControlsPlot, ControlsPlot)
	p("\n## Models (mean ± 95 %% interval over seeds; differences from the start model per seed)\n\n")
	p("| model | long greedy acc (%%) | top-1 claim tasks (%%) | − copy baseline (pts) | − start (pts) | top-1 copy-solvable tasks (%%) | needle gain (nats) | ppl Lt/2…Lt | NLL − start (nats) | short ppl | train FLOPs |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range s.Models {
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m.Label, ivf(m.LongAccuracy, 100, "%.1f"), ivf(m.LongTop1, 100, "%.1f"), ivf(m.Top1VsCopy, 100, "%+.1f"), ivf(m.Top1VsStart, 100, "%+.1f"),
			ivf(m.ReachTop1, 100, "%.1f"), ivf(m.NeedleGain, 1, "%.2f"), ivf(m.LastPPL, 1, "%.2f"), ivf(m.NLLVsStart, 1, "%+.3f"), ivf(m.ShortPPL, 1, "%.2f"), ivf(m.FLOPs, 1, "%.3g"))
	}
	return b.String()
}

// claimTable writes one table of claims.
func claimTable(b *strings.Builder, cs []ClaimResult) {
	b.WriteString("| claim | paper | ours (mean ± 95 % interval over seeds) | paired bootstrap | holds? |\n|---|---|---|---|---|\n")
	for _, c := range cs {
		fmt.Fprintf(b, "| %s<br>*%s* | %s | %s | %s | %s |\n", c.Claim, c.Measure, c.Paper, c.Ours, c.Boot, c.Holds)
	}
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
	return fmt.Sprintf(f, k*iv.Mean) + " ± " + strings.TrimPrefix(fmt.Sprintf(f, k*iv.HalfWidth), "+")
}

func joinSeeds(v []int64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
