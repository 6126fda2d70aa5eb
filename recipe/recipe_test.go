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

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
)

func TestParseErrors(t *testing.T) {
	good := `output = "run"
[base]
model = "m"
[data]
corpus = "c.jsonl"
[extend]
target_length = 2048
steps = 10
`
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
		{"syntax", good + "[[[", "syntax.toml"},
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

func TestRunStagesSkipAndRerun(t *testing.T) {
	dir := t.TempDir()
	calls := map[string]int{}
	mk := func(settings map[string]any) []*stage {
		var st []*stage
		prev := ""
		for _, n := range Stages {
			n := n
			s := &stage{name: n, dir: filepath.Join(dir, n), settings: settings[n], run: func(ctx context.Context, d string) (any, error) {
				calls[n]++
				return map[string]int{"calls": calls[n]}, os.WriteFile(filepath.Join(d, "out"), []byte(n), 0o644)
			}}
			if prev != "" {
				s.deps = []string{prev}
			}
			prev = n
			st = append(st, s)
		}
		return st
	}
	settings := map[string]any{}
	for _, n := range Stages {
		settings[n] = map[string]int{"v": 1}
	}
	var log bytes.Buffer
	if _, err := runStages(context.Background(), mk(settings), "", &log); err != nil {
		t.Fatal(err)
	}
	if _, err := runStages(context.Background(), mk(settings), "", &log); err != nil {
		t.Fatal(err)
	}
	for _, n := range Stages {
		if calls[n] != 1 {
			t.Fatalf("stage %s ran %d times, want once (second run must skip)", n, calls[n])
		}
	}
	// A change in the middle reruns that stage and the ones depending on it.
	settings["anneal"] = map[string]int{"v": 2}
	if _, err := runStages(context.Background(), mk(settings), "", &log); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"prepare": 1, "extend": 1, "replay": 1, "anneal": 2, "merge": 2, "eval": 2}
	for n, c := range want {
		if calls[n] != c {
			t.Fatalf("after changing anneal: %s ran %d times, want %d", n, calls[n], c)
		}
	}
	// --from-stage forces that stage and later ones.
	if _, err := runStages(context.Background(), mk(settings), "merge", &log); err != nil {
		t.Fatal(err)
	}
	if calls["anneal"] != 2 || calls["merge"] != 3 || calls["eval"] != 3 {
		t.Fatalf("from-stage merge: calls %v", calls)
	}
	if _, err := runStages(context.Background(), mk(settings), "nope", &log); err == nil {
		t.Fatal("unknown --from-stage accepted")
	}
	// A failing stage writes no stage.json and the next run retries it.
	failing := mk(settings)
	failing[5].run = func(context.Context, string) (any, error) { return nil, fmt.Errorf("boom") }
	if _, err := runStages(context.Background(), failing, "eval", &log); err == nil || !strings.Contains(err.Error(), "stage eval: boom") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "eval", StageFileName)); err == nil {
		t.Fatal("failed stage left a stage.json")
	}
}

// tinyModel writes a small random Llama with the embedded tokenizer.
func tinyModel(t *testing.T, dir string) {
	t.Helper()
	raw := map[string]any{
		"model_type": "llama", "vocab_size": 4096, "hidden_size": 32, "intermediate_size": 64,
		"num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 64,
		"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true, "hidden_act": "silu",
		"initializer_range": 0.02, "torch_dtype": "float32", "bos_token_id": 0, "eos_token_id": 1,
	}
	b, _ := json.Marshal(raw)
	cfg, err := hf.ParseConfig(b, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir, "float32"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), assets.TokenizerJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunEndToEndTiny(t *testing.T) {
	dir := t.TempDir()
	tinyModel(t, filepath.Join(dir, "base"))
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
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), corpus.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "replay.jsonl"), replay.Bytes(), 0o644)
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
	// A rerun skips every stage.
	log.Reset()
	if _, err := Run(context.Background(), r, Options{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "done already"); n != len(Stages) {
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
