package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunScoresAndReports(t *testing.T) {
	tok := sotuTok(t)
	hay, docs := sotuHaystack(t)
	opt := Options{
		Tasks:   append(append([]string{}, SyntheticTasks...), PerplexityTask),
		Lengths: []int{2048, 4096}, Depths: []float64{0, 0.5, 1}, Samples: 2, Seed: 1,
		Haystack: hay, PPLDocs: docs, PPLSource: "sotu held-out", PPLWindow: 1024,
		ModelName: "solver", TokenizerName: "sotu-bpe",
	}
	m := &fakeScorer{}
	var prog bytes.Buffer
	opt.Progress = &prog
	res, err := Run(context.Background(), m, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	// 9 depth tasks × 2 lengths × 3 depths × 2 samples + 4 others × 2 × 2.
	if want := 9*2*3*2 + 4*2*2; len(res.Items) != want || m.solver.calls != want {
		t.Fatalf("%d items, %d calls, want %d", len(res.Items), m.solver.calls, want)
	}
	for _, it := range res.Items {
		if it.Score != 1 {
			t.Errorf("%s %d: score %v for a model that reads the answer (output %q, expected %q)", it.Task, it.Length, it.Score, it.Output, it.Expected)
		}
		if math.Abs(float64(it.PromptTokens-it.Length)) > float64(Slack(it.Length)) {
			t.Errorf("%s: prompt %d tokens for length %d", it.Task, it.PromptTokens, it.Length)
		}
	}
	if len(res.Summary) != 13*2 {
		t.Errorf("%d summary cells, want 26", len(res.Summary))
	}
	if len(res.Cells) != 9*2*3+4*2 {
		t.Errorf("%d cells, want 62", len(res.Cells))
	}
	if !strings.Contains(prog.String(), "eval") || !strings.Contains(prog.String(), "ppl") {
		t.Errorf("progress output %q", prog.String())
	}
	// Perplexity: the fake scorer's NLL is known exactly per position;
	// every document of 4096 tokens is one sequence, and short windows
	// add up to at least ShortPPLTokens.
	long := 0
	for _, d := range docs {
		if len(tok.Encode(d, true)) >= 4096 {
			long++
		}
	}
	wantWin := (ShortPPLTokens + 1022) / 1023
	p := res.PPL
	if p == nil || p.Length != 4096 || p.Sequences != long || p.TooShort != len(docs)-long || p.Documents != len(docs) ||
		p.Windows != wantWin || p.ShortTokens != 1023*wantWin || p.Window != 1024 {
		t.Fatalf("ppl %+v, want %d sequences and %d windows", p, long, wantWin)
	}
	if p.Buckets[0].From != 1 || p.Buckets[0].To != 64 || p.Buckets[len(p.Buckets)-1].To != 4096 {
		t.Errorf("buckets %+v", p.Buckets)
	}
	for _, b := range p.Buckets {
		var want float64
		for pos := b.From; pos < b.To; pos++ {
			want += fakeNLL(pos)
		}
		want /= float64(b.To - b.From)
		if math.Abs(b.NLL-want) > 1e-6 || math.Abs(b.PPL-math.Exp(want)) > 1e-5*b.PPL || b.Tokens != long*(b.To-b.From) {
			t.Errorf("bucket %d–%d: NLL %v ppl %v tokens %d, want %v, %v, %d", b.From, b.To, b.NLL, b.PPL, b.Tokens, want, math.Exp(want), long*(b.To-b.From))
		}
	}
	var short float64
	for pos := 1; pos < 1024; pos++ {
		short += fakeNLL(pos)
	}
	if short /= 1023; math.Abs(p.ShortNLL-short) > 1e-6 {
		t.Errorf("short NLL %v, want %v", p.ShortNLL, short)
	}

	// Reports.
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("EVAL_REPORT_DIR"); d != "" { // to look at the report
		WriteReport(d, res)
	}
	for _, name := range []string{ResultsJSON, ResultsMD, PPLPlot, HeatmapFile(Passkey), HeatmapFile(CommonWords)} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("report file: %v", err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, ResultsMD))
	for _, want := range []string{"| passkey | 100.0 | 100.0 | 100.0 |", "| fwe | 100.0 | 100.0 | 100.0 |", "| **mean** |", fmt.Sprintf("Short-context perplexity (%d windows of 1024 tokens, %d tokens predicted)", wantWin, 1023*wantWin)} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	img := decodePNG(t, filepath.Join(dir, HeatmapFile(NIAHMultiKey)))
	if b := img.Bounds(); b.Dx() != 900 || b.Dy() != 540 {
		t.Errorf("heatmap size %v", b)
	}
	checkRecords(t, dir, res, long)
	back, err := LoadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Items) != len(res.Items) || back.PPL.ShortPPL != res.PPL.ShortPPL || back.Items[3].Output != res.Items[3].Output {
		t.Error("results.json does not round-trip")
	}
	// Reports of results read back take the copy baseline from items.jsonl.
	want, _ := res.PartialMean(DecoyPasskey, 2048)
	back.Partial = nil
	if got, ok := copyOf([]*Results{back}, DecoyPasskey, 2048); !ok || math.Abs(got-want.Copy) > 1e-12 {
		t.Errorf("copy baseline read back from items.jsonl: %v, %v; want %v", got, ok, want.Copy)
	}
	// A report folder written before items.jsonl existed still loads.
	if err := os.Remove(filepath.Join(dir, ItemsJSONL)); err != nil {
		t.Fatal(err)
	}
	if old, err := LoadResults(dir); err != nil || old.ItemsCopy != nil {
		t.Errorf("results without items.jsonl: %v, items copy %v", err, old.ItemsCopy)
	}
}

// checkRecords checks items.jsonl and ppl_docs.jsonl beside a report of
// res: one line per prompt with its fields, the copy baseline computed
// from the file equal to the report's, and one line per long document
// with the fake scorer's known loss.
func checkRecords(t *testing.T, dir string, res *Results, long int) {
	t.Helper()
	items, err := ReadItems(filepath.Join(dir, ItemsJSONL))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(res.Items) {
		t.Fatalf("items.jsonl has %d lines for %d prompts", len(items), len(res.Items))
	}
	ranked := 0
	for i, it := range items {
		s := res.Items[i]
		if it.Task != s.Task || it.Length != s.Length || it.Seed != res.Seed || it.Index != s.Index || it.Greedy != s.Output ||
			len(sotuTok(t).Encode(it.Prompt, true)) != s.PromptTokens || (it.Depth != nil) != UsesDepth(it.Task) {
			t.Fatalf("item %d: %+v does not match its sample %+v", i, it, s)
		}
		if it.Gold == nil {
			continue
		}
		ranked++
		if *it.Gold != 0 || len(it.Candidates) != NumDistractors+1 || len(it.Scores) != len(it.Candidates) || it.Candidates[0] == "" || it.Scores[0] != s.Partial.GoldLL {
			t.Errorf("item %d (%s): candidates %q gold %d scores %v", i, it.Task, it.Candidates, *it.Gold, it.Scores)
		}
	}
	// 7 ranked depth tasks × 2 lengths × 3 depths × 2 samples, and
	// decoy_vt's 2 × 2.
	if want := 7*2*3*2 + 2*2; ranked != want {
		t.Errorf("%d ranked items, want %d", ranked, want)
	}
	for _, c := range CopyBaseline(items) {
		if c.Length == 0 {
			continue
		}
		pc, ok := res.PartialMean(c.Task, c.Length)
		if !ok || math.Abs(pc.Copy-c.Copy) > 1e-12 || pc.N != c.N {
			t.Errorf("%s %d: copy baseline from items.jsonl %v (n %d), report %v (n %d)", c.Task, c.Length, c.Copy, c.N, pc.Copy, pc.N)
		}
		if want := strings.HasPrefix(c.Task, "decoy_"); (c.Copy <= MaxClaimCopy) != want {
			t.Errorf("%s %d: copy baseline %v", c.Task, c.Length, c.Copy)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, PPLDocsJSONL))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var want float64
	for pos := 1; pos < 4096; pos++ {
		want += fakeNLL(pos)
	}
	want /= 4095
	for _, l := range lines {
		var d PPLDoc
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		if d.Tokens != 4095 || math.Abs(d.NLL-want) > 1e-6 || len(d.BucketNLL) != len(res.PPL.Buckets) {
			t.Errorf("ppl_docs.jsonl line %+v, want %d tokens, NLL %v", d, 4095, want)
		}
	}
	if len(lines) != long {
		t.Errorf("ppl_docs.jsonl has %d lines, want %d", len(lines), long)
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestRunWrongModelAndCompare(t *testing.T) {
	tok := sotuTok(t)
	opt := Options{Tasks: []string{Passkey, NIAHMultiValue, VariableTrack}, Lengths: []int{1024, 2048}, Depths: []float64{0.5}, Samples: 1, Seed: 2, ModelName: "wrong"}
	bad, err := Run(context.Background(), wrong{}, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range bad.Items {
		if it.Score != 0 {
			t.Errorf("%s: wrong answer %q scored %v", it.Task, it.Output, it.Score)
		}
	}
	opt.ModelName = "solver"
	good, err := Run(context.Background(), &solver{}, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
	if err := WriteReport(dirs[0], bad); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(dirs[1], good); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "cmp")
	if err := Compare(out, dirs); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(out, CompareMD))
	for _, want := range []string{"| wrong | 0.0 | 0.0 | 0.0 |", "| solver | 100.0 | 100.0 | 100.0 |", "niah_multivalue (%)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("compare.md lacks %q:\n%s", want, md)
		}
	}
	decodePNG(t, filepath.Join(out, ComparePlot))
	if err := Compare(out, []string{filepath.Join(root, "missing")}); err == nil {
		t.Error("compare of a missing directory: no error")
	}
}

func TestRunErrors(t *testing.T) {
	tok := byteTok{}
	base := Options{Tasks: []string{Passkey}, Lengths: []int{1024}, Depths: []float64{0.5}, Samples: 1}
	cases := []struct {
		name string
		edit func(o *Options)
		m    Model
		want string
	}{
		{"unknown task", func(o *Options) { o.Tasks = []string{"qa"} }, &solver{}, "unknown task"},
		{"duplicate", func(o *Options) { o.Tasks = []string{Passkey, Passkey} }, &solver{}, "twice"},
		{"no lengths", func(o *Options) { o.Lengths = nil }, &solver{}, "no lengths"},
		{"bad depth", func(o *Options) { o.Depths = []float64{2} }, &solver{}, "outside"},
		{"no depths", func(o *Options) { o.Depths = nil }, &solver{}, "needs depths"},
		{"no samples", func(o *Options) { o.Samples = 0 }, &solver{}, "samples"},
		{"ppl without scorer", func(o *Options) { o.Tasks = []string{PerplexityTask}; o.PPLDocs = []string{"x"} }, &solver{}, "log-probabilities"},
		{"ppl without text", func(o *Options) { o.Tasks = []string{PerplexityTask} }, &fakeScorer{}, "needs text"},
		{"ppl text too short", func(o *Options) { o.Tasks = []string{PerplexityTask}; o.PPLDocs = []string{"short"} }, &fakeScorer{}, "no document of 1024 tokens"},
	}
	for _, c := range cases {
		o := base
		c.edit(&o)
		_, err := Run(context.Background(), c.m, tok, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// A task that cannot fit a length fails before the model runs.
	o := base
	o.Tasks = []string{Passkey, CommonWords}
	m := &solver{}
	if _, err := Run(context.Background(), m, tok, o); err == nil || !strings.Contains(err.Error(), "cwe at 1024 tokens") || m.calls != 0 {
		t.Errorf("cwe at 1024 bytes: error %v after %d model calls, want an error before any", err, m.calls)
	}
	// A model error stops the run and names the sample.
	_, err := Run(context.Background(), failing{}, tok, base)
	if err == nil || !strings.Contains(err.Error(), "passkey length 1024 sample 0") {
		t.Errorf("failing model: error %v", err)
	}
}

type failing struct{}

func (failing) Complete(ctx context.Context, p *Prompt) (string, error) {
	return "", os.ErrDeadlineExceeded
}

func TestDocuments(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	docs, err := Documents(write("a.jsonl", `{"text":"one"}`+"\n\n"+`{"text":"two","id":3}`+"\n"))
	if err != nil || len(docs) != 2 || docs[1] != "two" {
		t.Errorf("jsonl: %v %v", docs, err)
	}
	docs, err = Documents(write("a.txt", "plain text"))
	if err != nil || len(docs) != 1 || docs[0] != "plain text" {
		t.Errorf("text: %v %v", docs, err)
	}
	for name, content := range map[string]string{
		"bad.jsonl":    `{"text":"one"}` + "\n{oops\n",
		"notext.jsonl": `{"body":"one"}`,
		"empty.jsonl":  "\n",
		"empty.txt":    "  \n",
		"bad.txt.gz":   "not gzip",
	} {
		if _, err := Documents(write(name, content)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
	if _, err := LoadHaystack(write("tiny.txt", "too few words")); err == nil {
		t.Error("tiny haystack: no error")
	}
}

// slowSolver answers like solver, slowly, recording peak concurrency; it
// fails on the sample numbered failAt (−1: never).
type slowSolver struct {
	mu          sync.Mutex
	now, peak   int
	failAt      int
	failedCalls int
}

func (s *slowSolver) Complete(ctx context.Context, p *Prompt) (string, error) {
	s.mu.Lock()
	s.now++
	s.peak = max(s.peak, s.now)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.now--; s.mu.Unlock() }()
	time.Sleep(5 * time.Millisecond)
	if p.Index == s.failAt {
		return "", fmt.Errorf("server gone")
	}
	return " " + strings.Join(solve(p.Task, p.Text), ", "), nil
}

func TestRunParallel(t *testing.T) {
	tok := sotuTok(t)
	opt := Options{Tasks: []string{Passkey, NIAHMultiQuery}, Lengths: []int{1024, 2048}, Depths: []float64{0, 1}, Samples: 3, Seed: 4}
	seq, err := Run(context.Background(), &solver{}, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Parallel = 4
	s := &slowSolver{failAt: -1}
	par, err := Run(context.Background(), s, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	if s.peak < 2 || s.peak > 4 {
		t.Errorf("peak concurrency %d, want 2..4", s.peak)
	}
	if len(par.Items) != len(seq.Items) {
		t.Fatalf("%d items, sequential run %d", len(par.Items), len(seq.Items))
	}
	for i := range seq.Items {
		a, b := seq.Items[i], par.Items[i]
		if a.Task != b.Task || a.Length != b.Length || a.Index != b.Index || a.PromptTokens != b.PromptTokens || b.Score != 1 {
			t.Errorf("item %d: parallel %+v, sequential %+v", i, b, a)
		}
	}
	s = &slowSolver{failAt: 2}
	if _, err := Run(context.Background(), s, tok, opt); err == nil || !strings.Contains(err.Error(), "server gone") || !strings.Contains(err.Error(), "sample 2") {
		t.Errorf("failing parallel run: %v", err)
	}
}

// wordingSolver answers in wording w and records the prompts.
type wordingSolver struct {
	w       *Wording
	prompts []string
}

func (s *wordingSolver) Complete(ctx context.Context, p *Prompt) (string, error) {
	s.prompts = append(s.prompts, p.Text)
	return " " + strings.Join(solveIn(s.w, p.Task, p.Text), ", ") + ".", nil
}

// TestRunWording: Options.Wording picks the prompts' text, and the
// results name it; the default is the held-out wording.
func TestRunWording(t *testing.T) {
	tok := sotuTok(t)
	for _, name := range []string{"", "heldout", "ruler"} {
		w := HeldOutWording
		var opt Options
		if name != "" {
			var err error
			if w, err = WordingNamed(name); err != nil {
				t.Fatal(err)
			}
			opt.Wording = w
		}
		opt.Tasks, opt.Lengths, opt.Depths, opt.Samples, opt.Seed = []string{Passkey}, []int{1024}, []float64{0.5}, 2, 3
		s := &wordingSolver{w: w}
		res, err := Run(context.Background(), s, tok, opt)
		if err != nil {
			t.Fatal(err)
		}
		if res.Wording != w.Name {
			t.Errorf("%q: results name wording %q, want %q", name, res.Wording, w.Name)
		}
		intro := strings.Fields(w.PasskeyIntro)
		for i, p := range s.prompts {
			if !strings.Contains(p, strings.Join(intro[:min(6, len(intro))], " ")) {
				t.Errorf("%q: prompt %d lacks the wording's passkey intro %q", name, i, w.PasskeyIntro)
			}
			if res.Items[i].Score != 1 {
				t.Errorf("%q: sample %d scored %v for a solver of its wording", name, i, res.Items[i].Score)
			}
		}
	}
	if _, err := WordingNamed("pose"); err == nil || !strings.Contains(err.Error(), `wording "pose"`) {
		t.Errorf("unknown wording: error %v", err)
	}
}
