package train

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
)

func testHyper(steps int) Hyper {
	h := Hyper{Steps: steps, Batch: 2, GradAccum: 2, Schedule: "cosine", LR: 0.1, Warmup: 2, MinLR: 0.01, GradClip: 1, Seed: 2027}
	h.SetAdamW(AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1})
	return h
}

// saveFake writes the model's weights to dir/model.safetensors.
func saveFake(m Model) func(string) error {
	return func(dir string) error {
		var ts []tensor
		for _, p := range m.Params() {
			ts = append(ts, tensor{p.Name, p.Shape, p.W})
		}
		return writeF32Safetensors(filepath.Join(dir, "model.safetensors"), ts)
	}
}

func TestRunOverfitsAndWritesOutputs(t *testing.T) {
	out := t.TempDir()
	m := newBigram(8, 1)
	var log bytes.Buffer
	cfg := Config{Hyper: testHyper(40), Model: m, Data: cyclicRows(6, 8), Output: out, CheckpointEvery: 10, SaveModel: saveFake(m), Log: &log}
	cfg.LR = 0.2
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 40 || ms[39].Step != 40 || res.Steps != 40 {
		t.Fatalf("%d metric lines, last step %d, result steps %d; want 40", len(ms), ms[len(ms)-1].Step, res.Steps)
	}
	first, last := ms[0].Loss, ms[39].Loss
	t.Logf("loss %.4f -> %.4f (ln 8 = %.4f)", first, last, math.Log(8))
	if !(last < first/4) {
		t.Errorf("loss %.4f -> %.4f: did not drop below a quarter", first, last)
	}
	for i, mt := range ms {
		if want := cfg.ScheduleOf().At(i); mt.LR != want {
			t.Errorf("step %d: lr %v, schedule %v", i+1, mt.LR, want)
		}
		// Rows are 5..8 tokens long; a step has 4 rows.
		if mt.Tokens < 20 || mt.Predicted != mt.Tokens-4 {
			t.Errorf("step %d: %d tokens, %d predicted", i+1, mt.Tokens, mt.Predicted)
		}
	}
	for _, f := range []string{"model.safetensors", "loss.png", "lr.png", "checkpoints/latest", "checkpoints/step-00000040/state.json", "checkpoints/step-00000040/weights.safetensors", "checkpoints/step-00000040/optimizer.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(out, "checkpoints")); len(ents) != 2 {
		t.Errorf("checkpoints/ has %d entries, want latest + one step folder", len(ents))
	}
	// A rerun finds the finished checkpoint, trains nothing and leaves the
	// weights as they are.
	before, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
	m2 := newBigram(8, 1)
	cfg.Model, cfg.SaveModel = m2, saveFake(m2)
	res2, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
	if res2.ResumedFrom != 40 || m2.calls != 0 || !bytes.Equal(before, after) {
		t.Errorf("rerun of a finished run: resumed from %d, %d model calls, weights equal %v", res2.ResumedFrom, m2.calls, bytes.Equal(before, after))
	}
}

// TestRunDataOrder checks which rows each micro-step gets: file order,
// wrapping around at the end.
func TestRunDataOrder(t *testing.T) {
	m := newBigram(8, 1)
	cfg := Config{Hyper: testHyper(3), Model: m, Data: cyclicRows(5, 8), Output: t.TempDir()}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{0, 1}, {2, 3}, {4, 0}, {1, 2}, {3, 4}, {0, 1}}
	if !reflect.DeepEqual(m.seen, want) {
		t.Errorf("rows seen per micro-step %v, want %v", m.seen, want)
	}
}

// TestGradAccumEquivalence: B=4,K=1 and B=1,K=4 see the same rows, and the
// loss is the mean over every predicted token of the step in both.
func TestGradAccumEquivalence(t *testing.T) {
	var runs [][]Metric
	var weights [][]float32
	for _, bk := range [][2]int{{4, 1}, {1, 4}, {2, 2}} {
		out := t.TempDir()
		m := newBigram(8, 3)
		cfg := Config{Hyper: testHyper(5), Model: m, Data: cyclicRows(7, 8), Output: out}
		cfg.Batch, cfg.GradAccum = bk[0], bk[1]
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		ms, err := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, ms)
		weights = append(weights, append([]float32(nil), m.table.W...))
	}
	for r := 1; r < len(runs); r++ {
		for i := range runs[0] {
			a, b := runs[0][i], runs[r][i]
			if math.Abs(a.Loss-b.Loss) > 1e-12*math.Abs(a.Loss) || a.Predicted != b.Predicted || math.Abs(a.GradNorm-b.GradNorm) > 1e-6*a.GradNorm {
				t.Errorf("run %d step %d: loss %v norm %v (%d tokens) vs %v %v (%d)", r, i+1, b.Loss, b.GradNorm, b.Predicted, a.Loss, a.GradNorm, a.Predicted)
			}
		}
		for j := range weights[0] {
			if math.Abs(float64(weights[0][j]-weights[r][j])) > 1e-6 {
				t.Fatalf("run %d: weight %d = %v, want %v", r, j, weights[r][j], weights[0][j])
			}
		}
	}
}

func TestRunRefusesOtherHyperparameters(t *testing.T) {
	out := t.TempDir()
	cfg := Config{Hyper: testHyper(4), Model: newBigram(8, 1), Data: cyclicRows(4, 8), Output: out, CheckpointEvery: 2}
	cfg.Steps = 2
	cfg.Hyper.Steps = 2
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Hyper.Steps = 4
	cfg.LR = 0.05
	cfg.Extra = map[string]string{"model": "/m"}
	cfg.Model = newBigram(8, 1)
	_, err := Run(context.Background(), cfg)
	if err == nil {
		t.Fatal("no error for changed hyperparameters")
	}
	for _, want := range []string{"lr: checkpoint 0.1, now 0.05", "steps: checkpoint 2, now 4", `model: absent in the checkpoint, now "/m"`, "--force"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	cfg.Force = true
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != 2 || res.Steps != 4 {
		t.Errorf("forced resume: from %d to %d, want 2 to 4", res.ResumedFrom, res.Steps)
	}
}

// TestRunLengthensConstantSchedule: under a constant schedule a finished
// run given more steps continues from its last checkpoint and ends with
// the very weights of a run that was given them from the start; a run
// given fewer steps than its checkpoint, or a decaying schedule given
// other steps, is refused.
func TestRunLengthensConstantSchedule(t *testing.T) {
	run := func(out string, steps int) ([]byte, *Result, error) {
		m := newBigram(8, 1)
		cfg := Config{Hyper: testHyper(steps), Model: m, Data: cyclicRows(5, 8), Output: out, CheckpointEvery: 2, SaveModel: saveFake(m)}
		cfg.Schedule, cfg.MinLR = "constant", 0
		res, err := Run(context.Background(), cfg)
		if err != nil {
			return nil, nil, err
		}
		w, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
		return w, res, err
	}
	whole, _, err := run(t.TempDir(), 7)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, _, err := run(out, 3); err != nil {
		t.Fatal(err)
	}
	longer, res, err := run(out, 7)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != 3 || res.Steps != 7 || !bytes.Equal(whole, longer) {
		t.Errorf("3 then 7 steps: resumed from %d to %d, weights equal to 7 steps at once: %v", res.ResumedFrom, res.Steps, bytes.Equal(whole, longer))
	}
	if step, err := CheckpointStep(out); step != 7 || err != nil {
		t.Errorf("CheckpointStep = %d, %v; want 7", step, err)
	}
	if _, _, err := run(out, 5); err == nil || !strings.Contains(err.Error(), "beyond --steps 5") {
		t.Errorf("fewer steps than the checkpoint: error %v", err)
	}
	if step, err := CheckpointStep(t.TempDir()); step != -1 || err != nil {
		t.Errorf("CheckpointStep of an empty folder = %d, %v; want -1", step, err)
	}
}

func TestRunStopsOnNaN(t *testing.T) {
	out := t.TempDir()
	m := newBigram(8, 1)
	m.nanAtCall = 7 // step 4, micro-step 1 (K=2)
	cfg := Config{Hyper: testHyper(10), Model: m, Data: cyclicRows(4, 8), Output: out, CheckpointEvery: 2}
	_, err := Run(context.Background(), cfg)
	if err == nil {
		t.Fatal("no error for a NaN loss")
	}
	for _, want := range []string{"step 4", "NaN", "last good checkpoint is step 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(out, "checkpoints", "latest")); string(b) != "step-00000002\n" {
		t.Errorf("latest = %q, want step-00000002", b)
	}
	ms, err := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil || len(ms) != 3 {
		t.Errorf("metrics: %d lines (%v), want 3", len(ms), err)
	}
}

func TestRunInterruptWritesCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		after, step int
		inPass      bool
	}{
		{6, 3, false}, // cancelled after step 3's last micro-step (K=2)
		{5, 2, false}, // cancelled mid-step 3: the step is abandoned
		{6, 2, true},  // cancelled inside step 3's last pass (model.ErrStopped)
	} {
		out := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		m := &cancelAfter{bigram: newBigram(8, 1), after: tc.after, cancel: cancel, inPass: tc.inPass}
		cfg := Config{Hyper: testHyper(10), Model: m, Data: cyclicRows(4, 8), Output: out}
		_, err := Run(ctx, cfg)
		if want := fmt.Sprintf("interrupted at step %d", tc.step); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q", err, want)
		}
		if b, _ := os.ReadFile(filepath.Join(out, "checkpoints", "latest")); string(b) != fmt.Sprintf("step-%08d\n", tc.step) {
			t.Errorf("latest = %q, want step %d", b, tc.step)
		}
		if m.calls != tc.after {
			t.Errorf("%d model calls after the cancel at %d", m.calls, tc.after)
		}
	}
}

// cancelAfter cancels a context after a number of ForwardBackward calls;
// with inPass, that call then fails as a pass ended by model.Options.Stop.
type cancelAfter struct {
	*bigram
	after  int
	cancel func()
	inPass bool
}

func (c *cancelAfter) ForwardBackward(b *model.Batch) (float64, int, error) {
	l, n, err := c.bigram.ForwardBackward(b)
	if c.calls == c.after {
		c.cancel()
		if c.inPass {
			return 0, 0, fmt.Errorf("wrapped: %w", model.ErrStopped)
		}
	}
	return l, n, err
}

func TestRunRejectsBadConfig(t *testing.T) {
	base := Config{Hyper: testHyper(3), Model: newBigram(8, 1), Data: cyclicRows(4, 8), Output: t.TempDir()}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no model", func(c *Config) { c.Model = nil }},
		{"no data", func(c *Config) { c.Data = Rows{} }},
		{"no output", func(c *Config) { c.Output = "" }},
		{"steps 0", func(c *Config) { c.Hyper.Steps = 0 }},
		{"batch 0", func(c *Config) { c.Batch = 0 }},
		{"accum 0", func(c *Config) { c.GradAccum = 0 }},
		{"clip NaN", func(c *Config) { c.GradClip = math.NaN() }},
		{"schedule", func(c *Config) { c.Schedule = "exp" }},
		{"beta1", func(c *Config) { c.AdamW.Beta1 = 1 }},
		{"every<0", func(c *Config) { c.CheckpointEvery = -1 }},
		{"max row<0", func(c *Config) { c.MaxRowTokens = -1 }},
	} {
		c := base
		tc.mod(&c)
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestMakeBatch(t *testing.T) {
	rows := []shards.Row{
		{InputIDs: []int32{1, 2, 3, 4}, LossMask: []bool{false, false, true, true}},
		{InputIDs: []int32{5, 6, 7}, PositionIDs: []int32{0, 10, 20}},
	}
	b, tok, err := makeBatch(rows)
	if err != nil {
		t.Fatal(err)
	}
	if tok != 7 {
		t.Errorf("tokens %d, want 7", tok)
	}
	wantMask := [][]bool{{false, true, true, false}, {true, true, false}}
	if !reflect.DeepEqual(b.LossMask, wantMask) {
		t.Errorf("mask %v, want %v", b.LossMask, wantMask)
	}
	wantPos := [][]int32{{0, 1, 2, 3}, {0, 10, 20}}
	if !reflect.DeepEqual(b.Positions, wantPos) {
		t.Errorf("positions %v, want %v", b.Positions, wantPos)
	}
	b, _, _ = makeBatch(rows[1:])
	if b.LossMask != nil {
		t.Errorf("mask %v, want nil when no row has one", b.LossMask)
	}
	if _, _, err := makeBatch([]shards.Row{{InputIDs: []int32{1, 2}, PositionIDs: []int32{0}}}); err == nil {
		t.Error("no error for mismatched position ids")
	}
}

func TestRunRefusesCheckpointOfAnotherModel(t *testing.T) {
	out := t.TempDir()
	cfg := Config{Hyper: testHyper(2), Model: newBigram(8, 1), Data: cyclicRows(4, 8), Output: out}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Model = newBigram(9, 1)
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "checkpoint does not match the model") || !strings.Contains(err.Error(), "model.embed_tokens.weight has shape [8 8], the model's is [9 9]") {
		t.Errorf("error %v, want a shape mismatch naming the tensor", err)
	}
}

func TestRunRefusesOtherData(t *testing.T) {
	out := t.TempDir()
	cfg := Config{Hyper: testHyper(4), Model: newBigram(8, 1), Data: cyclicRows(5, 8), Output: out, CheckpointEvery: 2}
	cfg.Hyper.Steps = 2
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Hyper.Steps = 2
	for _, tc := range []struct {
		name string
		data Rows
		msg  string
	}{
		{"fewer rows", cyclicRows(4, 8), "5 data rows, the data now has 4"},
		{"middle row", func() Rows { r := cyclicRows(5, 8); r[2] = shards.Row{InputIDs: []int32{1, 1, 1}}; return r }(), "other data"},
	} {
		cfg.Data, cfg.Model = tc.data, newBigram(8, 1)
		if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.msg)
		}
	}
}

func TestRunFolderRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		job  FolderJob
		msg  string
	}{
		{"no data", FolderJob{Hyper: testHyper(1), From: dir, Output: dir + "/out"}, "all required"},
		{"same folder", FolderJob{Hyper: testHyper(1), From: dir, Data: dir + "/d.jsonl", Output: dir + "/."}, "is the input"},
		{"missing data", FolderJob{Hyper: testHyper(1), From: dir, Data: dir + "/d.jsonl", Output: dir + "/out"}, "d.jsonl"},
	} {
		if _, err := RunFolder(context.Background(), tc.job); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.msg)
		}
	}
}

// maxLenSeen records the longest row the model was given.
type maxLenSeen struct {
	Model
	max int
}

func (m *maxLenSeen) ForwardBackward(b *model.Batch) (float64, int, error) {
	for _, t := range b.Tokens {
		m.max = max(m.max, len(t))
	}
	return m.Model.ForwardBackward(b)
}

// TestRunRefusesOverlongRow: a row longer than MaxRowTokens stops the run
// with one line naming the data, the row and its length, before the model
// sees it (issue 11 F1); a row of exactly the limit trains.
func TestRunRefusesOverlongRow(t *testing.T) {
	rows := cyclicRows(6, 8)
	long := shards.Row{InputIDs: make([]int32, 40)}
	rows[1] = long // not among the fingerprint rows 0, 3, 5: read by step 1
	for _, tc := range []struct {
		limit int
		msg   string
	}{
		{39, "rows.jsonl row 1 has 40 tokens, more than the 39 (max_position_embeddings)"},
		{40, ""},
	} {
		m := &maxLenSeen{Model: newBigram(8, 1)}
		cfg := Config{Hyper: testHyper(1), Model: m, Data: rows, Output: t.TempDir(), MaxRowTokens: tc.limit, DataName: "rows.jsonl"}
		_, err := Run(context.Background(), cfg)
		if tc.msg == "" {
			if err != nil || m.max != 40 {
				t.Errorf("limit %d: err %v, longest row seen %d; want a run over the 40-token row", tc.limit, err, m.max)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("limit %d: err %v, want one line with %q", tc.limit, err, tc.msg)
		}
		if m.max > tc.limit {
			t.Errorf("limit %d: the model saw a row of %d tokens", tc.limit, m.max)
		}
	}
}

// TestRunFolderRefusesRowBeyondTheWindow: RunFolder's limit is the model's
// max_position_embeddings (64 for the tiny Llama).
func TestRunFolderRefusesRowBeyondTheWindow(t *testing.T) {
	dir := t.TempDir()
	m, err := model.New(tinyLlamaConfig(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(filepath.Join(dir, "model"), "float32"); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 65)
	for i := range ids {
		ids[i] = "1"
	}
	data := filepath.Join(dir, "rows.jsonl")
	row := `{"input_ids":[` + strings.Join(ids, ",") + "]}\n"
	os.WriteFile(data, []byte(`{"input_ids":[1,2,3]}`+"\n"+row), 0o644)
	_, err = RunFolder(context.Background(), FolderJob{Hyper: testHyper(1), From: filepath.Join(dir, "model"), Data: data, Output: filepath.Join(dir, "out")})
	if want := data + " row 1 has 65 tokens, more than the 64"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v, want %q", err, want)
	}
}
