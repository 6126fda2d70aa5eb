package recipe

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/internal/testfix"
)

// TestStaleInputsRerun: editing the corpus or replacing the base weights
// at the same path reruns the stages that read them, naming the input
// (every stage used to say "done already"); moving the corpus without
// changing it reruns nothing.
func TestStaleInputsRerun(t *testing.T) {
	dir := t.TempDir()
	writeTinyInputs(t, dir)
	r := extendOnly(t, dir, "fp32", "steps = 2\ncheckpoint_every = 1\nlr = 1e-3")
	var log bytes.Buffer
	run := func() {
		t.Helper()
		log.Reset()
		if _, err := Run(context.Background(), r, Options{Log: &log}); err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
	}
	run()
	extended := readTensor(t, r.StageDir("extend"), "model.norm.weight")
	corpus := filepath.Join(dir, "corpus.jsonl")
	b, _ := os.ReadFile(corpus)
	lines := strings.SplitAfter(string(b), "\n")
	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"unchanged", func() {}, []string{"prepare: done already", "extend-start: done already", "extend: done already"}},
		{"corpus edited in place", func() { os.WriteFile(corpus, []byte(strings.Join(lines[1:], "")), 0o644) },
			[]string{"prepare: inputs changed (input data.corpus)", "extend-start: done already", "extend: inputs changed (upstream prepare)"}},
		{"corpus moved", func() {
			os.Rename(corpus, corpus+".moved")
			r.Data.Corpus = corpus + ".moved"
		}, []string{"prepare: done already", "extend: done already"}},
		{"base weights replaced in place", func() {
			testfix.Llama{Window: 64, Tied: true, Stops: true, Seed: 9}.Write(t, filepath.Join(dir, "base2"))
			os.Rename(filepath.Join(dir, "base2", "model.safetensors"), filepath.Join(dir, "base", "model.safetensors"))
		}, []string{"prepare: done already", "extend-start: inputs changed (input base.model)", "extend: inputs changed (upstream extend-start)"}},
	}
	for _, s := range steps {
		s.change()
		run()
		for _, w := range s.want {
			if !strings.Contains(log.String(), w) {
				t.Fatalf("%s: log lacks %q:\n%s", s.name, w, log.String())
			}
		}
	}
	if got := readTensor(t, r.StageDir("extend"), "model.norm.weight"); equal32(got, extended) {
		t.Error("the extended model is unchanged after the base weights were replaced")
	}
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestInputInsideRunFolder: a base model inside the recipe's own merge
// folder (continuing from an earlier run's merged model into the same
// output) and a corpus inside a stage folder are refused before any stage
// runs, naming the input, and nothing is deleted (the runner used to clear
// the folder holding them).
func TestInputInsideRunFolder(t *testing.T) {
	for _, c := range []struct {
		name, key, rel string
	}{
		{"base in the merge folder", "model", "run/5-merge"},
		{"corpus in the prepare folder", "corpus", "run/1-prepare/corpus.jsonl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTinyInputs(t, dir)
			os.MkdirAll(filepath.Join(dir, "run", "1-prepare"), 0o755)
			os.Rename(filepath.Join(dir, "base"), filepath.Join(dir, "run", "5-merge"))
			os.Rename(filepath.Join(dir, "corpus.jsonl"), filepath.Join(dir, "run", "1-prepare", "corpus.jsonl"))
			text := "output = \"run\"\n[base]\nmodel = \"run/5-merge\"\n[data]\ncorpus = \"run/1-prepare/corpus.jsonl\"\n" +
				"[extend]\ntarget_length = 256\nratio = 0.3\nsteps = 1\n[eval]\nskip = true\n"
			if c.key == "model" {
				os.MkdirAll(filepath.Join(dir, "c"), 0o755)
				os.Rename(filepath.Join(dir, "run", "1-prepare", "corpus.jsonl"), filepath.Join(dir, "c", "corpus.jsonl"))
				text = strings.Replace(text, "run/1-prepare/corpus.jsonl", "c/corpus.jsonl", 1)
			} else {
				os.Rename(filepath.Join(dir, "run", "5-merge"), filepath.Join(dir, "base"))
				text = strings.Replace(text, "run/5-merge", "base", 1)
			}
			r, err := Parse([]byte(text), "r.toml", dir)
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			_, err = Run(context.Background(), r, Options{Log: &log})
			want := filepath.Join(dir, c.rel)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "lies inside the folder of stage") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line naming %s", err, want)
			}
			if strings.Contains(log.String(), "running") {
				t.Errorf("a stage ran:\n%s", log.String())
			}
			if _, err := os.Stat(filepath.Join(dir, c.rel)); err != nil {
				t.Errorf("the input is gone: %v", err)
			}
		})
	}
}
