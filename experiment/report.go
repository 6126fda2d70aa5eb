package experiment

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/plot"
)

// Markdown renders the results as the report's tables.
func (r *Results) Markdown() string {
	var b strings.Builder
	s := r.Settings
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# LongRecipe miniature reproduction\n\n")
	p("Command: `%s`  \nSeed: %d\n\n", r.Command, r.Seed)
	if s.Quick {
		p("**Quick settings: a smoke test of the harness; the numbers mean nothing.**\n\n")
	}
	r.writeSettings(&b)
	p("\n## Claims on the final models of this seed (the claim tables over seeds are in ../results.md)\n\n")
	p("Retrieval claims use the claim tasks (%s: copy baseline ≤ %.0f %%).\n\n| claim | measured | met |\n|---|---|---|\n", strings.Join(r.ClaimTasks, ", "), 100*eval.MaxClaimCopy)
	for _, t := range r.Targets {
		p("| %s | %s | %s |\n", t.Claim, t.Measured, t.Holds)
	}

	ms := r.sorted()
	p("\n## Methods (FLT at equal sequences and at equal tokens)\n\n")
	r.table(&b, pick(ms, Base, Start, LongRecipe30, FLTSequences, FLT, PoSE, RandPos))
	p("\n## Controls (LongRecipe 30 %% positions)\n\n")
	r.table(&b, pick(ms, LongRecipe30, LongRecipe30NoSelect, LongRecipe30Random, LongRecipe30Analysis))
	p("\n## Kept-token ratio ablation (LongRecipe, fraction of Lt)\n\n")
	r.table(&b, pick(ms, LongRecipe10, LongRecipe20, LongRecipe30, LongRecipe40, FLT))
	p("\n## Stages: the same replay and merge for every method\n\n")
	p("Stage 2 and 3 rows count the stage-1 and the replay training together.\n\n")
	var staged []RunName
	for _, rs := range runs {
		staged = append(staged, rs.Name, rs.Name.afterReplay(), rs.Name.afterMerge())
	}
	r.table(&b, pick(ms, append([]RunName{Base}, staged...)...))

	r.writeTaskTables(&b, ms)
	p("\n## Perplexity by position (held-out split, %d-token sequences)\n\n", s.TargetLength)
	var edges []eval.PPLBucket
	for _, m := range ms {
		if len(m.PPL) > len(edges) {
			edges = m.PPL
		}
	}
	p("| model |")
	for _, e := range edges {
		p(" %d–%d |", e.From, e.To)
	}
	p(" short (%d) |\n|---|%s---|\n", s.Window, strings.Repeat("---|", len(edges)))
	for _, m := range ms {
		p("| %s |", m.Label)
		for i := range edges {
			v := math.NaN()
			if i < len(m.PPL) {
				v = m.PPL[i].PPL
			}
			p(" %s |", num(v))
		}
		p(" %s |\n", num(m.ShortPPL))
	}
	return b.String()
}

// writeTaskTables writes the accuracy and answer-NLL tables of ms by
// task and length.
func (r *Results) writeTaskTables(b *strings.Builder, ms []*ModelResult) {
	fmt.Fprintf(b, "\n## Accuracy by task and length (%%)\n\n")
	r.Settings.taskLengthTable(b, ms, func(m *ModelResult, t string, l int) string { return pct0(m.acc(t, l)) })
	b.WriteString("\n## Answer negative log-likelihood by task and length (nats per answer token; lower is better)\n\n")
	b.WriteString("The gold answer scored by teacher forcing after the same prompts as the accuracy table.\n\n")
	r.Settings.taskLengthTable(b, ms, func(m *ModelResult, t string, l int) string { return num(m.nll(t, l)) })
}

// taskLengthTable writes a table of ms with a column per task and
// length, each cell cell(model, task, length).
func (s Settings) taskLengthTable(b *strings.Builder, ms []*ModelResult, cell func(m *ModelResult, t string, l int) string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("| model |")
	for _, t := range s.Tasks {
		for _, l := range s.Lengths {
			p(" %s %s |", t, eval.LengthLabel(l))
		}
	}
	p("\n|---|%s\n", strings.Repeat("---|", len(s.Tasks)*len(s.Lengths)))
	for _, m := range ms {
		p("| %s |", m.Label)
		for _, t := range s.Tasks {
			for _, l := range s.Lengths {
				p(" %s |", cell(m, t, l))
			}
		}
		p("\n")
	}
}

// writeSettings writes the paragraph that says how the seed was run.
func (r *Results) writeSettings(b *strings.Builder) {
	s := r.Settings
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("Base model `%s`: %d parameters, window %d tokens, RoPE θ %g. Every run starts from it with the window\n", s.Base, s.Params, s.Window, s.BaseTheta)
	p("raised to Lt = %d tokens (%d×) and θ = %.4g (dynamic-NTK rule), and trains on the embedded corpus's\n", s.TargetLength, s.Factor, s.RopeTheta)
	p("training split, cut into chunks of at least Lt tokens (no run repeats data), with AdamW (β 0.9/0.999, weight decay 0.1,\n")
	p("clip 1), %d rows per step, LR %g constant, for the same budget of **%d training tokens** — except FLT at equal\n", s.Batch, s.LR, s.Tokens)
	p("sequences and the 10, 20 and 40 %% ratios, which train as many rows (steps) as LongRecipe 30 %%; the seed shuffles the\n")
	p("training chunks, so every run's data order varies with it. Stage 2 for every run (methods, controls, ratios):\n")
	p("the same %d tokens of replay rows (general text and generic recall records, no evaluation wording), LR %g decaying\n", s.AnnealTokens, s.AnnealLR)
	p("linearly to 0; stage 3 merges with the original weights. Random-drop control: drop probability %.3f (1 − the digit\n", 1-s.KeptFraction)
	p("selection's kept fraction %.3f). Evaluation (held-out wording): %s at %s tokens,\n", s.KeptFraction, strings.Join(s.Tasks, " and "), joinInts(s.Lengths))
	p("needle depths %s, %d samples per cell (haystack: held-out split for the needle tasks, the noise filler for the pass-key tasks);\n", joinFloats(s.Depths), s.Samples)
	p("top-1 = rate at which the gold answer is the most likely of 10 candidates (chance 10 %%; copy baseline per task in\n")
	p("eval/NAME/results.md, computed from eval/NAME/items.jsonl); needle gain = the gold\n")
	p("answer's log-likelihood with the needle minus without it. Perplexity on the held-out documents (one document per\n")
	p("sequence). Long-context accuracy = %s.\n", s.LongAccuracy)
	if s.MaxDocs > 0 {
		p("Only the first %d training documents were used.\n", s.MaxDocs)
	}
	p("\nTraining FLOPs are counted analytically: %s, summed over the rows each run trained on.\n", s.FLOPsFormula)
	p("¹ \"vs FLT same rows\" divides by the analytic cost of training as many rows at Lt tokens each.\n")

}

// nll returns a model's mean answer NLL of task at length ("" task: the
// mean over tasks); NaN when not measured.
func (m *ModelResult) nll(task string, length int) float64 {
	var sum float64
	var n int
	for _, a := range m.AnswerNLL {
		if a.Length == length && (task == "" || a.Task == task) {
			sum += a.Score
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// table writes the summary table of models.
func (r *Results) table(b *strings.Builder, ms []*ModelResult) {
	fmt.Fprintf(b, "| model | Ls | steps | tokens | epochs | train FLOPs | compute vs FLT (equal tokens) | vs FLT same rows¹ | train wall s | passkey %s | niah_single %s | long-context acc | top-1 claim tasks %s | − start (pts) | copy baseline | top-1 copy-solvable tasks | needle gain | answer NLL %s | ppl Lt/2…Lt | short ppl |\n",
		r.longLabel(), r.longLabel(), r.longLabel(), r.longLabel())
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	start := r.model(Start)
	for _, m := range ms {
		ls, steps, tokens, epochs, flops, ratio, same, secs := "–", "–", "–", "–", "–", "–", "–", "–"
		if m.TrainLength > 0 {
			ls = fmt.Sprint(m.TrainLength)
		}
		if t := m.Training; t != nil {
			steps, tokens, flops, secs = fmt.Sprint(t.Steps), fmt.Sprint(t.Tokens), fmt.Sprintf("%.3g", t.FLOPs), fmt.Sprintf("%.0f", t.Seconds)
			if t.Epochs > 0 {
				epochs = fmt.Sprintf("%.2f", t.Epochs)
			}
			if m.ComputeVsFLT > 0 {
				ratio = pct(m.ComputeVsFLT)
			}
			if t.FullFLOPs > 0 {
				same = pct(t.FLOPs / t.FullFLOPs)
			}
		}
		vsStart := math.NaN()
		if start != nil {
			vsStart = m.LongTop1 - start.LongTop1
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m.Label, ls, steps, tokens, epochs, flops, ratio, same, secs,
			pct0(r.longAcc(m, eval.Passkey)), pct0(r.longAcc(m, eval.NIAHSingle)), pct0(m.LongAccuracy), pct0(m.LongTop1), pts0(vsStart), pct0(m.LongCopy), pct0(m.ReachTop1),
			num(m.LongNeedleGain), num(m.LongAnswerNLL), num(m.LastPPL), num(m.ShortPPL))
	}
}

// longLabel names the lengths that long-context accuracy averages.
func (r *Results) longLabel() string {
	var ls []string
	for _, l := range r.Settings.Lengths {
		if l > r.Settings.Window {
			ls = append(ls, eval.LengthLabel(l))
		}
	}
	return "(" + strings.Join(ls, ", ") + ")"
}

func pick(ms []*ModelResult, names ...RunName) []*ModelResult {
	var out []*ModelResult
	for _, n := range names {
		for _, m := range ms {
			if m.Name == n {
				out = append(out, m)
			}
		}
	}
	return out
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// pct0 formats a [0, 1] score as a percentage; "–" when missing.
func pct0(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.1f", 100*v)
}

// pts0 formats a difference of [0, 1] scores in points; "–" when missing.
func pts0(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%+.1f", 100*v)
}

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// charts draws the four PNGs.
func (r *Results) charts(dir string) error {
	ms := r.sorted()
	top := pick(ms, Base, Start, FLTSequences, FLT, PoSE, RandPos, LongRecipe30, LongRecipe30Merge)
	acc, nll, ppl := r.Settings.lineCharts(top)
	ratio, rs := r.ratioChart(ms)
	stage, ss := r.Settings.stageChart(ms)
	for _, c := range []struct {
		file string
		save func(string) error
		ok   bool
	}{
		{AccuracyPlot, acc.SavePNG, len(acc.Series) > 0},
		{PPLPlot, ppl.SavePNG, len(ppl.Series) > 0},
		{NLLPlot, nll.SavePNG, len(nll.Series) > 0},
		{RatioPlot, ratio.SavePNG, len(rs) > 0},
		{StagePlot, stage.SavePNG, len(ss) > 0},
	} {
		if !c.ok {
			continue
		}
		if err := c.save(filepath.Join(dir, c.file)); err != nil {
			return fmt.Errorf("experiment: %s: %w", c.file, err)
		}
	}
	return nil
}

// lineCharts returns the charts by prompt length (top-1 rate, answer
// NLL) and by position (perplexity) of the evaluated models of top.
func (s Settings) lineCharts(top []*ModelResult) (acc, nll, ppl *plot.LineChart) {
	acc = &plot.LineChart{Title: fmt.Sprintf("Retrieval: gold answer ranked first of 10 (passkey + niah_single; chance 10 %%); base window %d", s.Window),
		XLabel: "prompt length (tokens)", YLabel: "top-1 rate (%)", LogX: true}
	nll = &plot.LineChart{Title: "Answer NLL (passkey + niah_single, teacher forcing) vs prompt length; lower is better",
		XLabel: "prompt length (tokens)", YLabel: "nats per answer token", LogX: true}
	ppl = &plot.LineChart{Title: "Perplexity by position, held-out text", XLabel: "position (tokens)", YLabel: "perplexity", LogX: true, LogY: true}
	for _, m := range top {
		if !m.Evaluated {
			continue
		}
		a := plot.Series{Name: m.Label}
		for _, l := range s.Lengths {
			a.X = append(a.X, float64(l))
			a.Y = append(a.Y, 100*m.top1At("", l))
		}
		acc.Series = append(acc.Series, a)
		if len(m.AnswerNLL) > 0 {
			q := plot.Series{Name: m.Label}
			for _, l := range s.Lengths {
				q.X = append(q.X, float64(l))
				q.Y = append(q.Y, m.nll("", l))
			}
			nll.Series = append(nll.Series, q)
		}
		if len(m.PPL) > 0 {
			q := plot.Series{Name: m.Label}
			for _, bk := range m.PPL {
				q.X = append(q.X, math.Sqrt(float64(max(bk.From, 1))*float64(bk.To)))
				q.Y = append(q.Y, bk.PPL)
			}
			ppl.Series = append(ppl.Series, q)
		}
	}
	return acc, nll, ppl
}

// ratioChart returns the kept-token ratio ablation's chart and its
// models.
func (r *Results) ratioChart(ms []*ModelResult) (*plot.BarChart, []*ModelResult) {
	s := r.Settings
	ratio := &plot.BarChart{Title: "Kept-token ratio ablation: top-1 rate (chance 10 %) " + r.longLabel(), XLabel: "real tokens per row (fraction of Lt)", YLabel: "top-1 rate (%)"}
	rs := pick(ms, LongRecipe10, LongRecipe20, LongRecipe30, LongRecipe40, FLT)
	for _, m := range rs {
		c := fmt.Sprintf("%.0f %%", 100*m.Ratio)
		if m.Name == FLT {
			c = "FLT (100 %)"
		}
		ratio.Categories = append(ratio.Categories, c)
	}
	for _, t := range append([]string{""}, s.Tasks...) {
		name := t
		if t == "" {
			name = "both tasks"
		}
		sr := plot.Series{Name: name}
		for _, m := range rs {
			sr.Y = append(sr.Y, 100*r.longTop1(m, t))
		}
		ratio.Series = append(ratio.Series, sr)
	}
	return ratio, rs
}

// stageChart returns the stage ablation's chart and its models. It keeps
// LongRecipe 30 % only; every method's stages are in the tables.
func (s Settings) stageChart(ms []*ModelResult) (*plot.BarChart, []*ModelResult) {
	stage := &plot.BarChart{Title: "Stage ablation (LongRecipe 30%): top-1 rate by prompt length (chance 10 %)", XLabel: "model", YLabel: "top-1 rate (%)"}
	ss := pick(ms, Base, LongRecipe30, LongRecipe30Replay, LongRecipe30Merge)
	for _, m := range ss {
		stage.Categories = append(stage.Categories, map[string]string{
			"base": "base model", "stage 1": "before replay", "stage 2": "after replay", "stage 3": "after merge"}[m.Stage])
	}
	for _, l := range s.Lengths {
		sr := plot.Series{Name: eval.LengthLabel(l) + " tokens"}
		for _, m := range ss {
			sr.Y = append(sr.Y, 100*m.top1At("", l))
		}
		stage.Series = append(stage.Series, sr)
	}
	return stage, ss
}
