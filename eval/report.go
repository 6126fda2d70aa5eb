package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/plot"
)

// File names of a report directory.
const (
	ResultsJSON = "results.json"
	ResultsMD   = "results.md"
	PPLPlot     = "ppl_by_position.png"
	CompareMD   = "compare.md"
	ComparePlot = "compare_accuracy.png"
)

// HeatmapFile is the name of a task's heatmap (accuracy by length and
// depth).
func HeatmapFile(task string) string { return "heatmap_" + task + ".png" }

// LengthLabel formats a token count: multiples of 1024 as "4k".
func LengthLabel(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + "k"
	}
	return strconv.Itoa(n)
}

// WriteReport writes results.json, results.md, items.jsonl (one line per
// prompt, see Item), one heatmap per task and, with perplexity,
// ppl_by_position.png and ppl_docs.jsonl (one line per document) into
// dir (created if needed).
func WriteReport(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: report directory: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: encode results: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultsJSON), append(js, '\n')); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ResultsMD), []byte(Markdown(r))); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if err := writeRecords(dir, r); err != nil {
		return err
	}
	for _, t := range r.Tasks {
		if t == PerplexityTask {
			continue
		}
		if err := heatmap(r, t).SavePNG(filepath.Join(dir, HeatmapFile(t))); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	if r.PPL != nil && len(r.PPL.Buckets) > 0 {
		c := &plot.LineChart{
			Title:  fmt.Sprintf("Perplexity by position: %s (%d × %s tokens)", r.Model, r.PPL.Sequences, LengthLabel(r.PPL.Length)),
			XLabel: "position (tokens)", YLabel: "perplexity", LogX: true, LogY: true,
			Series: []plot.Series{pplSeries(r)},
		}
		if err := c.SavePNG(filepath.Join(dir, PPLPlot)); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	return nil
}

// writeRecords writes items.jsonl (when r holds its prompt texts, as
// Run's results do) and, with perplexity, ppl_docs.jsonl.
func writeRecords(dir string, r *Results) error {
	if items, ok := r.ItemRecords(); ok && len(items) > 0 {
		if err := writeJSONL(filepath.Join(dir, ItemsJSONL), items); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	if r.PPL != nil && len(r.PPL.Docs) > 0 {
		if err := writeJSONL(filepath.Join(dir, PPLDocsJSONL), r.PPL.Docs); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	return nil
}

// pplSeries is the perplexity of each bucket at its geometric centre.
func pplSeries(r *Results) plot.Series {
	s := plot.Series{Name: r.Model}
	for _, b := range r.PPL.Buckets {
		s.X = append(s.X, math.Sqrt(float64(b.From)*float64(b.To)))
		s.Y = append(s.Y, b.PPL)
	}
	return s
}

// heatmap is task's accuracy (%) with lengths across and depths down.
func heatmap(r *Results, task string) *plot.Heatmap {
	h := &plot.Heatmap{
		Title:  fmt.Sprintf("%s: %s accuracy (%%)", r.Model, task),
		XLabel: "prompt length (tokens)", YLabel: "needle depth", Min: 0, Max: 100, Annotate: true,
	}
	for _, l := range r.Lengths {
		h.XTicks = append(h.XTicks, LengthLabel(l))
	}
	depths := []float64{-1}
	if UsesDepth(task) {
		depths = r.Depths
	} else {
		h.YLabel = ""
		h.Height = 220 // one row
	}
	for _, d := range depths {
		row := make([]float64, len(r.Lengths))
		for j := range row {
			row[j] = math.NaN()
		}
		for _, c := range r.Cells {
			if c.Task != task || (c.Depth == nil) != (d < 0) || (c.Depth != nil && *c.Depth != d) {
				continue
			}
			if j := slices.Index(r.Lengths, c.Length); j >= 0 {
				row[j] = 100 * c.Score
			}
		}
		h.Values = append(h.Values, row)
		if d < 0 {
			h.YTicks = append(h.YTicks, "all")
		} else {
			h.YTicks = append(h.YTicks, strconv.FormatFloat(100*d, 'f', -1, 64)+"%")
		}
	}
	return h
}

func pct(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return strconv.FormatFloat(100*v, 'f', 1, 64)
}

// Markdown renders results as tables: accuracy (%) task × length, then
// perplexity.
func Markdown(r *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Evaluation of %s\n\n", r.Model)
	fmt.Fprintf(&b, "Tokenizer %s, haystack %s, seed %d, %d samples per task × length × depth, depths %s.\n\n",
		r.Tokenizer, r.Haystack, r.Seed, r.Samples, formatDepths(r.Depths))
	if r.Wording != "" && r.Wording != HeldOutWording.Name {
		fmt.Fprintf(&b, "Prompt wording: %s (not held out from published training data).\n\n", r.Wording)
	}
	var tasks []string
	for _, t := range r.Tasks {
		if t != PerplexityTask {
			tasks = append(tasks, t)
		}
	}
	if len(tasks) > 0 {
		b.WriteString("Accuracy (%, string-match recall):\n\n| task |")
		for _, l := range r.Lengths {
			fmt.Fprintf(&b, " %s |", LengthLabel(l))
		}
		b.WriteString(" mean |\n|---|")
		for range r.Lengths {
			b.WriteString("---:|")
		}
		b.WriteString("---:|\n")
		colSum := make([]float64, len(r.Lengths))
		colN := make([]int, len(r.Lengths))
		for _, t := range tasks {
			fmt.Fprintf(&b, "| %s |", t)
			var s float64
			var n int
			for j, l := range r.Lengths {
				v, ok := r.Mean(t, l)
				fmt.Fprintf(&b, " %s |", pct(v, ok))
				if ok {
					s += v
					n++
					colSum[j] += v
					colN[j]++
				}
			}
			fmt.Fprintf(&b, " %s |\n", pct(s/float64(max(n, 1)), n > 0))
		}
		if len(tasks) > 1 {
			b.WriteString("| **mean** |")
			var s float64
			var n int
			for j := range r.Lengths {
				v := colSum[j] / float64(max(colN[j], 1))
				fmt.Fprintf(&b, " %s |", pct(v, colN[j] > 0))
				if colN[j] > 0 {
					s += v
					n++
				}
			}
			fmt.Fprintf(&b, " %s |\n", pct(s/float64(max(n, 1)), n > 0))
		}
		b.WriteString("\n")
	}
	writePartial(&b, r)
	if p := r.PPL; p != nil {
		fmt.Fprintf(&b, "Perplexity on %s: %d sequences of %d tokens, each the beginning of one document (%d of %d documents too short, skipped), by position:\n\n| positions | tokens | NLL (nats) | perplexity |\n|---|---:|---:|---:|\n",
			p.Source, p.Sequences, p.Length, p.TooShort, p.Documents)
		for _, bk := range p.Buckets {
			fmt.Fprintf(&b, "| %d–%d | %d | %.4f | %.3f |\n", bk.From, bk.To-1, bk.Tokens, bk.NLL, bk.PPL)
		}
		if p.Windows > 0 {
			fmt.Fprintf(&b, "\nShort-context perplexity (%d windows of %d tokens, %d tokens predicted): %.3f (NLL %.4f).\n", p.Windows, p.Window, p.ShortTokens, p.ShortPPL, p.ShortNLL)
		}
	}
	return b.String()
}

// writePartial renders the likelihood view: top-1 rate of the gold answer
// among its distractors, the copy baseline and the margin over it, the
// gold answer's log-likelihood and the needle's gain, task × length.
func writePartial(b *strings.Builder, r *Results) {
	if len(r.Partial) == 0 {
		return
	}
	var cs []PartialCell
	for _, c := range r.Partial {
		if c.Depth == nil {
			cs = append(cs, c)
		}
	}
	fmt.Fprintf(b, "Gold answer ranked by log-likelihood among %d candidates (the answer and distractors of the same form; chance %.0f %%). "+
		"Copy is the copy baseline: the expected top-1 of the no-model rule \"pick a candidate whose words all occur in the prompt\" (ties at random); "+
		"a task whose copy baseline exceeds %.0f %% measures whether the model reaches the needle, not whether it retrieves the right one. "+
		"Then the gold answer's log-likelihood and its gain when the needle is present vs absent (nats):\n\n", NumDistractors+1, 100*cs[0].Chance, 100*MaxClaimCopy)
	b.WriteString("| task | length | n | top-1 (%) | copy (%) | margin (pts) | gold log-lik | needle gain |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cs {
		fmt.Fprintf(b, "| %s | %s | %d | %.1f | %.1f | %+.1f | %.3f | %+.3f |\n", c.Task, LengthLabel(c.Length), c.N, 100*c.Top1, 100*c.Copy, 100*(c.Top1-c.Copy), c.GoldLL, c.NeedleGain)
	}
	b.WriteString("\n")
}

// MaxClaimCopy is the highest copy baseline a task may have for a claim
// to rest on it.
const MaxClaimCopy = 0.30

func formatDepths(ds []float64) string {
	if len(ds) == 0 {
		return "none"
	}
	var s []string
	for _, d := range ds {
		s = append(s, strconv.FormatFloat(d, 'f', -1, 64))
	}
	return strings.Join(s, ",")
}

// LoadResults reads dir/results.json and, when there is one, the copy
// baseline of dir/items.jsonl.
func LoadResults(dir string) (*Results, error) {
	path := filepath.Join(dir, ResultsJSON)
	data, err := paths.ReadRegular(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var r Results
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	if len(r.Items) == 0 && r.PPL == nil {
		return nil, fmt.Errorf("eval: %s holds no results", path)
	}
	if r.Model == "" {
		r.Model = filepath.Base(filepath.Clean(dir))
	}
	r.Aggregate()
	if items, err := ReadItems(filepath.Join(dir, ItemsJSONL)); err == nil {
		r.ItemsCopy = CopyBaseline(items)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return &r, nil
}

// Compare loads the results in dirs and writes compare.md and
// compare_accuracy.png (mean accuracy over tasks against length, one line
// per model) into out; with perplexity in every result it also writes
// compare_ppl.png. Models are named by their results, or by their
// directory when two share a name.
func Compare(out string, dirs []string) error {
	if len(dirs) < 1 {
		return fmt.Errorf("eval: compare needs at least one results directory")
	}
	var rs []*Results
	names := map[string]int{}
	for _, d := range dirs {
		r, err := LoadResults(d)
		if err != nil {
			return err
		}
		names[r.Model]++
		rs = append(rs, r)
	}
	for i, r := range rs {
		if names[r.Model] > 1 {
			r.Model = filepath.Clean(dirs[i])
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("eval: compare directory: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(out, CompareMD), []byte(CompareMarkdown(rs))); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	lengths := unionLengths(rs)
	c := &plot.LineChart{Title: "Mean accuracy over tasks", XLabel: "prompt length (tokens)", YLabel: "accuracy (%)", LogX: len(lengths) > 1 && lengths[len(lengths)-1] >= 4*lengths[0]}
	for _, r := range rs {
		s := plot.Series{Name: r.Model}
		for _, l := range lengths {
			if v, ok := meanOverTasks(r, l); ok {
				s.X = append(s.X, float64(l))
				s.Y = append(s.Y, 100*v)
			}
		}
		c.Series = append(c.Series, s)
	}
	if err := c.SavePNG(filepath.Join(out, ComparePlot)); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	allPPL := true
	for _, r := range rs {
		allPPL = allPPL && r.PPL != nil && len(r.PPL.Buckets) > 0
	}
	if allPPL {
		pc := &plot.LineChart{Title: "Perplexity by position", XLabel: "position (tokens)", YLabel: "perplexity", LogX: true, LogY: true}
		for _, r := range rs {
			pc.Series = append(pc.Series, pplSeries(r))
		}
		if err := pc.SavePNG(filepath.Join(out, "compare_ppl.png")); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	return nil
}

func unionLengths(rs []*Results) []int {
	var ls []int
	for _, r := range rs {
		for _, c := range r.Summary {
			if !slices.Contains(ls, c.Length) {
				ls = append(ls, c.Length)
			}
		}
	}
	slices.Sort(ls)
	return ls
}

// meanOverTasks is the mean summary score over the synthetic tasks
// measured at length.
func meanOverTasks(r *Results, length int) (float64, bool) {
	var s float64
	var n int
	for _, c := range r.Summary {
		if c.Length == length {
			s += c.Score
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return s / float64(n), true
}

// CompareMarkdown renders several results side by side: mean accuracy
// per model and length, one table per task, and perplexity.
func CompareMarkdown(rs []*Results) string {
	var b strings.Builder
	lengths := unionLengths(rs)
	header := func(first string) {
		fmt.Fprintf(&b, "| %s |", first)
		for _, l := range lengths {
			fmt.Fprintf(&b, " %s |", LengthLabel(l))
		}
		b.WriteString(" mean |\n|---|")
		for range lengths {
			b.WriteString("---:|")
		}
		b.WriteString("---:|\n")
	}
	row := func(name string, get func(l int) (float64, bool)) {
		fmt.Fprintf(&b, "| %s |", name)
		var s float64
		var n int
		for _, l := range lengths {
			v, ok := get(l)
			fmt.Fprintf(&b, " %s |", pct(v, ok))
			if ok {
				s += v
				n++
			}
		}
		fmt.Fprintf(&b, " %s |\n", pct(s/float64(max(n, 1)), n > 0))
	}
	b.WriteString("# Model comparison\n\n")
	if len(lengths) > 0 {
		b.WriteString("Mean accuracy over tasks (%):\n\n")
		header("model")
		for _, r := range rs {
			row(r.Model, func(l int) (float64, bool) { return meanOverTasks(r, l) })
		}
		writeStartDiff(&b, rs, header, row)
		var tasks []string
		for _, r := range rs {
			for _, c := range r.Summary {
				if !slices.Contains(tasks, c.Task) {
					tasks = append(tasks, c.Task)
				}
			}
		}
		for _, t := range tasks {
			fmt.Fprintf(&b, "\n%s (%%):\n\n", t)
			header("model")
			for _, r := range rs {
				row(r.Model, func(l int) (float64, bool) { return r.Mean(t, l) })
			}
		}
	}
	writeComparePartial(&b, rs, lengths)
	var withPPL []*Results
	for _, r := range rs {
		if r.PPL != nil {
			withPPL = append(withPPL, r)
		}
	}
	if len(withPPL) > 0 {
		writeComparePPL(&b, withPPL)
	}
	return b.String()
}

// StartModel is the name the comparison gives the start model (the base
// with its RoPE settings raised for the longer window, untrained): when a
// compared result has this name, every other model's ranked and greedy
// numbers are also shown as differences from it.
const StartModel = "start"

// writeComparePPL renders the perplexity of each model, with its
// last-bucket loss minus the start model's when one is compared.
func writeComparePPL(b *strings.Builder, rs []*Results) {
	var startNLL float64
	hasStart := false
	for _, r := range rs {
		if n := len(r.PPL.Buckets); r.Model == StartModel && n > 0 {
			startNLL, hasStart = r.PPL.Buckets[n-1].NLL, true
		}
	}
	b.WriteString("\nPerplexity (long sequences: one document each; NLL − start: the last bucket's mean loss minus the start model's, nats):\n\n| model | text | long sequences | last bucket | last-bucket ppl | NLL − start | short window | short tokens | short ppl |\n|---|---|---:|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		p := r.PPL
		last, lastPPL, vsStart := "–", "–", "–"
		if n := len(p.Buckets); n > 0 {
			last = fmt.Sprintf("%d–%d", p.Buckets[n-1].From, p.Buckets[n-1].To-1)
			lastPPL = fmt.Sprintf("%.3f", p.Buckets[n-1].PPL)
			if hasStart {
				vsStart = fmt.Sprintf("%+.4f", p.Buckets[n-1].NLL-startNLL)
			}
		}
		short := "–"
		if p.Windows > 0 {
			short = fmt.Sprintf("%.3f", p.ShortPPL)
		}
		fmt.Fprintf(b, "| %s | %s | %d × %d | %s | %s | %s | %d | %d | %s |\n", r.Model, p.Source, p.Sequences, p.Length, last, lastPPL, vsStart, p.Window, p.ShortTokens, short)
	}
}

// writeStartDiff renders each model's mean accuracy minus the start
// model's, when a start model is compared.
func writeStartDiff(b *strings.Builder, rs []*Results, header func(string), row func(string, func(int) (float64, bool))) {
	var start *Results
	for _, r := range rs {
		if r.Model == StartModel {
			start = r
		}
	}
	if start == nil {
		return
	}
	b.WriteString("\nMean accuracy minus the start model's (pts; the start model is the base with its RoPE settings raised, untrained):\n\n")
	header("model")
	for _, r := range rs {
		if r == start {
			continue
		}
		row(r.Model, func(l int) (float64, bool) {
			v, ok := meanOverTasks(r, l)
			s, sok := meanOverTasks(start, l)
			return v - s, ok && sok
		})
	}
}

// writeComparePartial renders, per ranked task, the top-1 rate of each
// model by length with the copy baseline as a row, its difference from
// the start model (when one is compared), and the needle gain.
func writeComparePartial(b *strings.Builder, rs []*Results, lengths []int) {
	var tasks []string
	for _, r := range rs {
		for _, c := range r.Partial {
			if !slices.Contains(tasks, c.Task) {
				tasks = append(tasks, c.Task)
			}
		}
	}
	var start *Results
	for _, r := range rs {
		if r.Model == StartModel {
			start = r
		}
	}
	top1 := func(c PartialCell) float64 { return c.Top1 }
	for _, t := range tasks {
		fmt.Fprintf(b, "\n%s, top-1 rate of the gold answer among its distractors (%%; chance %.0f %%; copy: the no-model rule that picks a candidate found in the prompt):\n\n", t, 100/float64(NumDistractors+1))
		partialTable(b, rs, lengths, t, top1, "%.1f", 100, true)
		if start != nil {
			fmt.Fprintf(b, "\n%s, top-1 rate minus the start model's (pts):\n\n", t)
			var others []*Results
			for _, r := range rs {
				if r != start {
					others = append(others, r)
				}
			}
			partialTable(b, others, lengths, t, func(c PartialCell) float64 {
				sc, ok := start.PartialMean(c.Task, c.Length)
				if !ok {
					return math.NaN()
				}
				return c.Top1 - sc.Top1
			}, "%+.1f", 100, false)
		}
		fmt.Fprintf(b, "\n%s, needle gain in the gold answer's log-likelihood (nats):\n\n", t)
		partialTable(b, rs, lengths, t, func(c PartialCell) float64 { return c.NeedleGain }, "%.3f", 1, false)
	}
}

// partialTable renders one model × length table of f over the ranked
// cells of task (scaled by k), with the copy baseline as a last row when
// withCopy is set.
func partialTable(b *strings.Builder, rs []*Results, lengths []int, task string, f func(PartialCell) float64, format string, k float64, withCopy bool) {
	b.WriteString("| model |")
	for _, l := range lengths {
		fmt.Fprintf(b, " %s |", LengthLabel(l))
	}
	b.WriteString("\n|---|")
	for range lengths {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	row := func(name string, get func(l int) (float64, bool)) {
		fmt.Fprintf(b, "| %s |", name)
		for _, l := range lengths {
			v, ok := get(l)
			if ok && !math.IsNaN(v) {
				fmt.Fprintf(b, " "+format+" |", k*v)
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	for _, r := range rs {
		row(r.Model, func(l int) (float64, bool) {
			c, ok := r.PartialMean(task, l)
			return f(c), ok
		})
	}
	if withCopy {
		row("*copy baseline*", func(l int) (float64, bool) { return copyOf(rs, task, l) })
	}
}

// copyOf is the copy baseline of task at length: from the first result
// read with an items.jsonl, else from the first result's ranked cells.
func copyOf(rs []*Results, task string, length int) (float64, bool) {
	for _, r := range rs {
		for _, c := range r.ItemsCopy {
			if c.Task == task && c.Length == length {
				return c.Copy, true
			}
		}
	}
	for _, r := range rs {
		if c, ok := r.PartialMean(task, length); ok {
			return c.Copy, true
		}
	}
	return 0, false
}
