package recipe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/eval/folder"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/testfix"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

// minimalRecipe has the required keys only.
const minimalRecipe = `output = "run"
[base]
model = "m"
[data]
corpus = "c.jsonl"
[extend]
target_length = 2048
steps = 10
`

func TestParseErrors(t *testing.T) {
	good := minimalRecipe
	if _, err := Parse([]byte(good), "good.toml", "/x"); err != nil {
		t.Fatalf("good recipe: %v", err)
	}
	cases := []struct{ name, text, want string }{
		{"unknown key", good + "[extend.extra]\nfoo = 1\n", "unknown key"},
		{"typo", strings.Replace(good, "steps", "stepz", 1), "unknown key(s) extend.stepz"},
		{"no output", strings.Replace(good, `output = "run"`, "", 1), "output: required"},
		{"no model", strings.Replace(good, `model = "m"`, "", 1), "base.model: required"},
		{"ratio", strings.Replace(good, "steps = 10", "steps = 10\nratio = 1.5", 1), "extend.ratio"},
		{"train > target", strings.Replace(good, "steps = 10", "steps = 10\ntrain_length = 4096", 1), "train_length"},
		{"method", strings.Replace(good, "steps = 10", "steps = 10\nmethod = \"yarn\"", 1), "extend.method"},
		{"steps", strings.Replace(good, "steps = 10", "steps = 0", 1), "extend.steps"},
		{"merge weights", good + "[merge]\nweights = [1.0]\n", "merge.weights"},
		{"precision", "precision = \"fp16\"\n" + good, "precision \"fp16\""},
		{"precision bf16", "precision = \"bf16\"\n" + good, ""},
		{"syntax", good + "[[[", "syntax.toml"},
		{"lr inf", strings.Replace(good, "steps = 10", "steps = 10\nlr = inf", 1), "extend.lr +Inf: want a finite number"},
		{"lr nan", strings.Replace(good, "steps = 10", "steps = 10\nlr = nan", 1), "extend.lr NaN: want a finite number"},
		{"anneal lr inf", good + "[anneal]\nlr = inf\n", "anneal.lr +Inf: want a finite number"},
		{"min_lr nan", strings.Replace(good, "steps = 10", "steps = 10\nmin_lr = nan", 1), "extend.min_lr NaN"},
		{"min_lr > lr", strings.Replace(good, "steps = 10", "steps = 10\nmin_lr = 1.0", 1), "extend.min_lr 1: want [0, lr"},
		{"weight decay -inf", strings.Replace(good, "steps = 10", "steps = 10\nweight_decay = -inf", 1), "extend.weight_decay -Inf"},
		{"weight decay negative", strings.Replace(good, "steps = 10", "steps = 10\nweight_decay = -0.1", 1), "extend.weight_decay -0.1: want >= 0"},
		{"grad clip inf", strings.Replace(good, "steps = 10", "steps = 10\ngrad_clip = inf", 1), "extend.grad_clip +Inf"},
		{"grad clip negative", strings.Replace(good, "steps = 10", "steps = 10\ngrad_clip = -1.0", 1), "extend.grad_clip -1"},
		{"ratio nan", strings.Replace(good, "steps = 10", "steps = 10\nratio = nan", 1), "extend.ratio NaN"},
		{"rope theta inf", strings.Replace(good, "steps = 10", "steps = 10\nrope_theta = inf", 1), "extend.rope_theta +Inf"},
		{"rope theta 0.5", strings.Replace(good, "steps = 10", "steps = 10\nrope_theta = 0.5", 1), "extend.rope_theta 0.5"},
		{"rope theta -1", strings.Replace(good, "steps = 10", "steps = 10\nrope_theta = -1.0", 1), ""},
		{"merge weight inf", good + "[merge]\nweights = [inf, 0.5]\n", "merge.weights[0] +Inf"},
		{"depth nan", good + "[eval]\ndepths = [0.5, nan]\n", "eval.depths[1] NaN"},
		{"eval length huge", good + "[eval]\nlengths = [1024, 1073741824]\n", "eval.lengths: 1073741824: want 16..16777216"},
		{"eval length tiny", good + "[eval]\nlengths = [8]\n", "eval.lengths: 8"},
		{"eval task unknown", good + "[eval]\ntasks = [\"passkey\", \"qa\"]\n", "eval.tasks: unknown task \"qa\""},
		{"eval task twice", good + "[eval]\ntasks = [\"ppl\", \"ppl\"]\n", "eval.tasks: \"ppl\" listed twice"},
		{"ppl window", good + "[eval]\nppl_window = -2\n", "eval.ppl_window -2"},
		{"eval huge skipped", good + "[eval]\nskip = true\nlengths = [1073741824]\n", ""},
		{"target huge", strings.Replace(good, "target_length = 2048", "target_length = 1073741824", 1), "extend.target_length 1073741824"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.text), "syntax.toml", "/x")
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
	r, _ := Parse([]byte(good), "good.toml", "/x")
	if r.Base.Model != "/x/m" || r.Base.Tokenizer != "/x/m/tokenizer.json" || r.Output != "/x/run" {
		t.Fatalf("relative paths not resolved: %+v %+v", r.Base, r.Output)
	}
	if r.Extend.Ls() != 614 {
		t.Fatalf("Ls = %d, want round(0.3·2048) = 614", r.Extend.Ls())
	}
}

func TestFromStage(t *testing.T) {
	if err := checkFromStage("nope"); err == nil || !strings.Contains(err.Error(), "--from-stage") {
		t.Fatalf("unknown --from-stage: error %v", err)
	}
	cases := []struct {
		name, from string
		want       bool
	}{
		{"prepare", "", false}, {"eval", "", false}, {"anneal", "merge", false},
		{"merge", "merge", true}, {"eval", "merge", true}, {"prepare", "prepare", true},
	}
	for _, c := range cases {
		if got := forced(c.name, c.from); got != c.want {
			t.Errorf("forced(%s, from %q) = %v, want %v", c.name, c.from, got, c.want)
		}
	}
}

// writeTinyInputs writes a tiny base model, a corpus and replay records
// into dir (base/, corpus.jsonl, replay.jsonl).
func writeTinyInputs(t *testing.T, dir string) {
	t.Helper()
	testfix.Llama{Window: 64, Tied: true, Stops: true}.Write(t, filepath.Join(dir, "base"))
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	var corpus, replay bytes.Buffer
	for _, d := range docs[:12] {
		b, _ := json.Marshal(map[string]string{"text": d.Text})
		corpus.Write(append(b, '\n'))
		b, _ = json.Marshal(map[string]string{"prompt": d.Text[:200], "response": d.Text[200:400]})
		replay.Write(append(b, '\n'))
	}
	for name, b := range map[string][]byte{"corpus.jsonl": corpus.Bytes(), "replay.jsonl": replay.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunEndToEndTiny(t *testing.T) {
	dir := t.TempDir()
	writeTinyInputs(t, dir)
	text := `name = "tiny"
output = "run"
threads = 2
[base]
model = "base"
[data]
corpus = "corpus.jsonl"
replay = "replay.jsonl"
[extend]
target_length = 256
ratio = 0.3
steps = 3
lr = 1e-3
batch = 2
checkpoint_every = 1
[anneal]
steps = 2
lr = 1e-4
[eval]
tasks = ["passkey", "ppl"]
lengths = [128, 256]
depths = [0.5]
samples = 1
ppl_corpus = "corpus.jsonl"
`
	rpath := filepath.Join(dir, "recipe.toml")
	os.WriteFile(rpath, []byte(text), 0o644)
	r, err := Load(rpath)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	sum, err := Run(context.Background(), r, Options{Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, n := range Stages {
		if sum.Stages[n] == nil {
			t.Fatalf("stage %s did not finish", n)
		}
	}
	// The extended model carries the new window and a raised RoPE base.
	cfg, err := hf.LoadConfig(filepath.Join(sum.Dirs["extend"], "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxPositionEmbeddings != 256 || !(cfg.RopeTheta > 10000) {
		t.Fatalf("extended config: window %d theta %v", cfg.MaxPositionEmbeddings, cfg.RopeTheta)
	}
	// The merged model is the average of the annealed and the original.
	got := readTensor(t, sum.Final, "model.norm.weight")
	a := readTensor(t, sum.Dirs["anneal"], "model.norm.weight")
	o := readTensor(t, filepath.Join(dir, "base"), "model.norm.weight")
	for i := range got {
		if want := (a[i] + o[i]) / 2; abs32(got[i]-want) > 1e-6 {
			t.Fatalf("merged[%d] = %v, want %v", i, got[i], want)
		}
	}
	for _, f := range []string{"compare", "base/results.json", "merge/results.json"} {
		if _, err := os.Stat(filepath.Join(sum.Dirs["eval"], f)); err != nil {
			t.Fatalf("eval output: %v", err)
		}
	}
	// The recipe's evaluation of a model is the eval command's: the same
	// folder opened by eval/folder with the same options gives the same
	// outputs (stop tokens, haystack, prompt sizes).
	evalAgrees(t, r, filepath.Join(dir, "base"), filepath.Join(sum.Dirs["eval"], "base"))
	// A rerun skips every stage.
	log.Reset()
	if _, err := Run(context.Background(), r, Options{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "done already"); n != len(Stages)+1 {
		t.Fatalf("rerun: %d stages skipped, want %d:\n%s", n, len(Stages), log.String())
	}
}

func readTensor(t *testing.T, dir, name string) []float32 {
	t.Helper()
	ck, err := hf.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	v, err := ck.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// interrupting trains with the Go trainer but cancels the run once its
// first metrics line is written, as a Ctrl-C would: the stage folder is
// left partial, with a checkpoint.
type interrupting struct{}

func (interrupting) Train(ctx context.Context, j trainer.Job) (*train.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if b, err := os.ReadFile(filepath.Join(j.Output, "metrics.jsonl")); err == nil && len(b) > 0 {
				cancel()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return trainer.Go{Precision: model.FP32}.Train(ctx, j) // the recipes it runs ask for fp32
}

// stageTheta reads the RoPE base of a model folder.
func stageTheta(t *testing.T, dir string) float64 {
	t.Helper()
	cfg, err := hf.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.RopeTheta
}

// extendOnly parses a recipe that runs stage 1 alone (one thread, no
// merge, no evaluation) on writeTinyInputs' files in dir, with the given
// precision and extra [extend] keys.
func extendOnly(t *testing.T, dir, precision, extend string) *Recipe {
	t.Helper()
	text := `output = "run"
threads = 1
precision = "` + precision + `"
[base]
model = "base"
[data]
corpus = "corpus.jsonl"
[extend]
target_length = 256
ratio = 0.3
batch = 1
` + extend + `
[merge]
skip = true
[eval]
skip = true
`
	r, err := Parse([]byte(text), "test.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestResumeWithChangedInputs is the stale-resume regression: an
// interrupted extend stage rerun with another rope_theta, or another lr,
// starts over with the new settings (it used to keep the old start model,
// or to fail asking for --force); a finished stage is skipped while its
// inputs are unchanged and rerun when they change.
func TestResumeWithChangedInputs(t *testing.T) {
	dir := t.TempDir()
	writeTinyInputs(t, dir)
	recipeText := func(theta, lr string) *Recipe {
		prec := "fp32"
		if strings.HasPrefix(lr, "bf16:") {
			prec, lr = "bf16", strings.TrimPrefix(lr, "bf16:")
		}
		return extendOnly(t, dir, prec, "steps = 20\ncheckpoint_every = 10\nrope_theta = "+theta+"\nlr = "+lr)
	}
	var log bytes.Buffer
	run := func(r *Recipe, tr trainer.Trainer) error {
		log.Reset()
		_, err := Run(context.Background(), r, Options{Log: &log, Trainer: tr})
		return err
	}
	extend := filepath.Join(dir, "run", "2-extend")
	steps := []struct {
		name, theta, lr string
		trainer         trainer.Trainer
		wantErr         string
		wantLog         string
		wantTheta       float64
	}{
		{name: "interrupted", theta: "20000", lr: "1e-3", trainer: interrupting{}, wantErr: "interrupted", wantTheta: 20000},
		{name: "partial, θ changed", theta: "40000", lr: "1e-3", wantLog: "extend: inputs changed (upstream extend-start)", wantTheta: 40000},
		{name: "finished, unchanged", theta: "40000", lr: "1e-3", wantLog: "extend: done already", wantTheta: 40000},
		{name: "finished, lr changed", theta: "40000", lr: "2e-3", wantLog: "extend: inputs changed (train.lr)", wantTheta: 40000},
		{name: "interrupted again", theta: "40000", lr: "3e-3", trainer: interrupting{}, wantErr: "interrupted", wantTheta: 40000},
		{name: "partial, lr changed", theta: "40000", lr: "4e-3", wantLog: "extend: inputs changed (train.lr)", wantTheta: 40000},
		{name: "interrupted, then resumed", theta: "40000", lr: "5e-3", trainer: interrupting{}, wantErr: "interrupted", wantTheta: 40000},
		{name: "partial, unchanged", theta: "40000", lr: "5e-3", wantLog: "train: resuming from", wantTheta: 40000},
		{name: "finished, precision changed", theta: "40000", lr: "bf16:5e-3", wantLog: "extend: inputs changed (precision)", wantTheta: 40000},
	}
	for _, s := range steps {
		err := run(recipeText(s.theta, s.lr), s.trainer)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%s: error %v, want %q", s.name, err, s.wantErr)
			}
			if got := stageTheta(t, extend+"-start"); got != s.wantTheta {
				t.Fatalf("%s: start model θ %v, want %v", s.name, got, s.wantTheta)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.name, err, log.String())
		}
		if !strings.Contains(log.String(), s.wantLog) {
			t.Fatalf("%s: log lacks %q:\n%s", s.name, s.wantLog, log.String())
		}
		if got := stageTheta(t, extend); got != s.wantTheta {
			t.Fatalf("%s: extended model θ %v, want %v", s.name, got, s.wantTheta)
		}
		ms, err := train.ReadMetrics(filepath.Join(extend, "metrics.jsonl"))
		if err != nil || len(ms) != 20 || ms[0].LR == 0 {
			t.Fatalf("%s: %d metrics lines (%v), want one per step", s.name, len(ms), err)
		}
		if want := recipeText(s.theta, s.lr).Extend.LR; ms[len(ms)-1].LR != want {
			t.Fatalf("%s: trained at lr %v, want %v", s.name, ms[len(ms)-1].LR, want)
		}
	}
}

// TestLengthenedExtend: a finished stage 1 given more steps (constant
// schedule) continues from its last checkpoint; given fewer steps than
// that checkpoint it starts over.
func TestLengthenedExtend(t *testing.T) {
	dir := t.TempDir()
	writeTinyInputs(t, dir)
	var log bytes.Buffer
	run := func(steps int) []train.Metric {
		r := extendOnly(t, dir, "fp32", fmt.Sprintf("steps = %d\ncheckpoint_every = 4\nschedule = \"constant\"", steps))
		log.Reset()
		if _, err := Run(context.Background(), r, Options{Log: &log}); err != nil {
			t.Fatalf("%d steps: %v\n%s", steps, err, log.String())
		}
		ms, err := train.ReadMetrics(filepath.Join(dir, "run", "2-extend", "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	for _, c := range []struct {
		steps   int
		wantLog []string
	}{
		{6, []string{"extend: running"}},
		{10, []string{"extend: inputs changed (train.steps): continuing", "train: resuming from", "(step 6 of 10)"}},
		{8, []string{"extend: inputs changed (train.steps): starting over"}},
	} {
		ms := run(c.steps)
		for _, want := range c.wantLog {
			if !strings.Contains(log.String(), want) {
				t.Fatalf("%d steps: log lacks %q:\n%s", c.steps, want, log.String())
			}
		}
		if len(ms) != c.steps || ms[len(ms)-1].Step != c.steps {
			t.Fatalf("%d steps: %d metrics lines", c.steps, len(ms))
		}
	}
}

// TestBackendSettings: the torch backend and its launch table are
// validated, and a torch stage gets the launcher settings of its table
// over those of its launch file.
func TestBackendSettings(t *testing.T) {
	good := minimalRecipe
	cases := []struct{ name, text, want string }{
		{"go default", good, ""},
		{"torch", good + "backend = \"torch\"\n[extend.launch]\nnproc_per_node = 8\n", ""},
		{"torch two nodes", good + "backend = \"torch\"\n[extend.launch]\nnnodes = 2\nnode_rank = 1\nmaster_addr = \"10.0.0.1\"\nmaster_port = 29500\n", ""},
		{"unknown backend", good + "backend = \"jax\"\n", "extend.backend \"jax\""},
		{"launch with go", good + "[extend.launch]\nnproc_per_node = 2\n", "extend.launch: only for backend = \"torch\""},
		{"node rank", good + "backend = \"torch\"\n[extend.launch]\nnnodes = 2\nnode_rank = 2\nmaster_addr = \"h\"\nmaster_port = 1\n", "extend.launch.node_rank 2"},
		{"no master", good + "backend = \"torch\"\n[extend.launch]\nnnodes = 2\n", "extend.launch.master_addr: required"},
		{"port", good + "backend = \"torch\"\n[extend.launch]\nmaster_port = 70000\n", "extend.launch.master_port 70000"},
		{"sharding", good + "backend = \"torch\"\n[extend.launch]\nsharding = \"zero3\"\n", "extend.launch.sharding"},
		{"unknown launch key", good + "backend = \"torch\"\n[extend.launch]\nnprocs = 2\n", "extend.launch.nprocs: unknown key"},
		{"launch precision", good + "backend = \"torch\"\n[extend.launch]\nprecision = \"bf16\"\n", "extend.launch.precision: set the recipe's precision"},
		{"context parallel", good + "backend = \"torch\"\n[extend.launch]\nnproc_per_node = 4\ncontext_parallel = 2\n", ""},
		{"cp not dividing", good + "backend = \"torch\"\n[extend.launch]\nnproc_per_node = 2\ncontext_parallel = 4\n", "extend.launch.context_parallel 4 does not divide the world size 2"},
		{"cp with ddp", good + "backend = \"torch\"\n[extend.launch]\nnproc_per_node = 4\nsharding = \"ddp\"\ncontext_parallel = 2\n", "needs sharding fsdp"},
		{"sequence_parallel is gone", good + "backend = \"torch\"\n[extend.launch]\nsequence_parallel = 2\n", "extend.launch.sequence_parallel: unknown key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.text), "b.toml", "/x")
			if c.want == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
	// A launch file, relative to the recipe, with the table's keys over it.
	dir := t.TempDir()
	testfix.WriteFile(t, filepath.Join(dir, "launch.json"), []byte(`{"nproc_per_node": 4, "sharding": "ddp", "precision": "bf16"}`))
	r, err := Parse([]byte(good+"backend = \"torch\"\n[extend.launch]\nconfig = \"launch.json\"\nnproc_per_node = 8\n"), "b.toml", dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.settings(r.Extend.Train)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trainer.New(s)
	if err != nil {
		t.Fatal(err)
	}
	tt, ok := tr.(trainer.Torch)
	if l := tt.Launch; !ok || l.NprocPerNode != 8 || l.Sharding != "ddp" || l.Precision != "bf16" || l.Launcher != "torchrun" || l.NNodes != 1 {
		t.Fatalf("trainer %T, launch %+v; want torch, 8 processes, ddp, bf16, torchrun on one node", tr, tt.Launch)
	}
	// The recipe's precision reaches the torch launch settings.
	r.Precision = "fp32"
	if s, err = r.settings(r.Extend.Train); err != nil {
		t.Fatal(err)
	}
	if tr, err = trainer.New(s); err != nil || tr.(trainer.Torch).Launch.Precision != "fp32" {
		t.Fatalf("recipe precision fp32: trainer %+v, %v", tr, err)
	}
	if s, err := r.settings(Train{Backend: BackendGo}); err != nil || s.Backend != BackendGo || s.Precision != "fp32" {
		t.Fatalf("go backend: %+v, %v", s, err)
	}
	if _, err := Parse([]byte(good+"backend = \"torch\"\n[extend.launch]\nconfig = \"missing.json\"\n"), "b.toml", dir); err == nil || !strings.Contains(err.Error(), "extend.launch") {
		t.Fatalf("missing launch file: error %v", err)
	}
}

// evalAgrees compares the recipe's results for a model with a direct
// eval/folder run of the same settings, as `longrecipe eval` does it.
func evalAgrees(t *testing.T, r *Recipe, modelDir, resultsDir string) {
	t.Helper()
	got, err := eval.LoadResults(resultsDir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := folder.Open(modelDir, folder.Options{Haystack: r.Eval.Haystack, PPLText: r.Eval.PPLCorpus, PPLWindow: 64})
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Run(context.Background(), eval.Options{Tasks: r.Eval.Tasks, Lengths: r.Eval.Lengths, Depths: r.Eval.Depths, Samples: r.Eval.Samples, Seed: uint64(r.Seed)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != len(want.Items) || got.Haystack != want.Haystack {
		t.Fatalf("recipe: %d items, haystack %q; eval: %d, %q", len(got.Items), got.Haystack, len(want.Items), want.Haystack)
	}
	for i := range got.Items {
		if g, w := got.Items[i], want.Items[i]; g.Output != w.Output || g.PromptTokens != w.PromptTokens {
			t.Errorf("item %d: recipe output %q (%d prompt tokens), eval %q (%d)", i, g.Output, g.PromptTokens, w.Output, w.PromptTokens)
		}
	}
}

// TestHaystackNames: the recipe accepts the eval command's haystack names
// and does not read them as files.
func TestHaystackNames(t *testing.T) {
	good := minimalRecipe + "[eval]\n"
	for name, want := range map[string]string{"noise": "noise", "repeat": "repeat", "heldout": "heldout", "": "", "hay.txt": "/x/hay.txt"} {
		r, err := Parse([]byte(good+"haystack = \""+name+"\"\n"), "h.toml", "/x")
		if err != nil {
			t.Fatal(err)
		}
		if r.Eval.Haystack != want {
			t.Errorf("haystack %q read as %q, want %q", name, r.Eval.Haystack, want)
		}
	}
}
