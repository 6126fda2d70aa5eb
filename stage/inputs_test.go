package stage

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInputsByContent: a stage is keyed by the contents of its declared
// inputs, not their paths: replacing a file or a model folder's weights in
// place reruns it and names the input; touching them, moving them or
// adding a subfolder to the model folder does not; and a file whose size
// and modification time are unchanged is not read again.
func TestInputsByContent(t *testing.T) {
	root := t.TempDir()
	corpus := filepath.Join(root, "corpus.jsonl")
	model := filepath.Join(root, "model")
	os.Mkdir(model, 0o755)
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(corpus, "{\"text\": \"one\"}\n")
	write(filepath.Join(model, "config.json"), "{}")
	write(filepath.Join(model, "model.safetensors"), "weights-1")
	f := &fake{}
	var log bytes.Buffer
	dir := filepath.Join(root, "run", "1-prepare")
	run := func(corpusPath string) error {
		log.Reset()
		r := &Runner{Log: &log}
		_, err := r.Run(context.Background(), Stage{Name: "prepare", Dir: dir, Settings: map[string]int{"lt": 8},
			Inputs: map[string]string{"data.corpus": corpusPath, "base.model": model}, Run: f.run}, nil)
		return err
	}
	later := time.Now().Add(time.Hour)
	steps := []struct {
		name    string
		change  func()
		corpus  string
		calls   int
		wantLog string
	}{
		{"new", func() {}, corpus, 1, "running"},
		{"unchanged", func() {}, corpus, 1, "done already"},
		{"touched", func() { os.Chtimes(corpus, later, later) }, corpus, 1, "done already"},
		{"corpus replaced in place", func() { write(corpus, "{\"text\": \"two\"}\n") }, corpus, 2, "inputs changed (input data.corpus)"},
		{"weights replaced in place", func() { write(filepath.Join(model, "model.safetensors"), "weights-2") }, corpus, 3, "inputs changed (input base.model)"},
		{"subfolder in the model folder", func() { os.MkdirAll(filepath.Join(model, "runs", "x"), 0o755) }, corpus, 3, "done already"},
		{"corpus moved, same content", func() { os.Rename(corpus, corpus+".moved") }, corpus + ".moved", 3, "done already"},
	}
	for _, s := range steps {
		s.change()
		if err := run(s.corpus); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if f.calls != s.calls || !strings.Contains(log.String(), s.wantLog) {
			t.Fatalf("%s: %d calls, log %q; want %d and %q", s.name, f.calls, log.String(), s.calls, s.wantLog)
		}
	}
	// The fast check: same size and modification time, other bytes. The
	// runner trusts the recorded hash and does not read the file.
	moved := corpus + ".moved"
	st, _ := os.Stat(moved)
	write(moved, "{\"text\": \"six\"}\n")
	os.Chtimes(moved, st.ModTime(), st.ModTime())
	if err := run(moved); err != nil || f.calls != 3 {
		t.Fatalf("same size and mtime: %d calls (%v), want the recorded hash trusted", f.calls, err)
	}
	// A missing input is an error naming it, and the folder is kept.
	if err := run(filepath.Join(root, "gone.jsonl")); err == nil || !strings.Contains(err.Error(), "stage prepare: input data.corpus") {
		t.Fatalf("missing input: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatal("a missing input cleared the stage folder")
	}
	// stage.json records each input's path, hash and files.
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	var rec Record
	json.Unmarshal(b, &rec)
	if c := rec.Inputs["base.model"]; c == nil || len(c.Files) != 2 || c.Files[1].Name != "model.safetensors" || len(c.SHA256) != 64 {
		t.Fatalf("recorded inputs: %s", b)
	}
}

// TestInputInsideStageFolder: an input inside a stage folder (the stage's
// own, through a symbolic link too, or another stage's of the pipeline) is
// refused with one line naming it, before the folder is cleared.
func TestInputInsideStageFolder(t *testing.T) {
	root := t.TempDir()
	prep := filepath.Join(root, "run", "1-prepare")
	merge := filepath.Join(root, "run", "6-merge")
	for _, d := range []string{prep, merge} {
		os.MkdirAll(d, 0o755)
	}
	corpus := filepath.Join(prep, "corpus.jsonl")
	os.WriteFile(corpus, []byte("{}\n"), 0o644)
	os.WriteFile(filepath.Join(merge, "config.json"), []byte("{}"), 0o644)
	os.Symlink(prep, filepath.Join(root, "link"))
	f := &fake{}
	for _, in := range []string{corpus, filepath.Join(root, "link", "corpus.jsonl")} {
		r := &Runner{}
		_, err := r.Run(context.Background(), Stage{Name: "prepare", Dir: prep, Inputs: map[string]string{"data.corpus": in}, Run: f.run}, nil)
		if err == nil || !strings.Contains(err.Error(), "stage prepare: input data.corpus "+in+" lies inside the folder of stage prepare") || strings.Contains(err.Error(), "\n") {
			t.Errorf("input %s: error %v", in, err)
		}
	}
	// A later stage continuing from an earlier run's merged model in the
	// same run folder: refused when the pipeline is checked up front.
	stages := []Stage{
		{Name: "extend-start", Dir: filepath.Join(root, "run", "2-extend-start"), Inputs: map[string]string{"base.model": merge}},
		{Name: "merge", Dir: merge, Inputs: map[string]string{"base.model": merge}},
	}
	if err := CheckInputs(stages...); err == nil || !strings.Contains(err.Error(), "stage extend-start: input base.model "+merge+" lies inside the folder of stage merge") {
		t.Errorf("pipeline check: %v", err)
	}
	if f.calls != 0 {
		t.Errorf("a refused stage ran %d times", f.calls)
	}
	for _, p := range []string{corpus, filepath.Join(merge, "config.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("input deleted: %v", err)
		}
	}
	// An input folder holding the stage folder is fine (a run folder
	// inside a model folder).
	if err := CheckInputs(Stage{Name: "s", Dir: filepath.Join(root, "run", "x"), Inputs: map[string]string{"base.model": root}}); err != nil {
		t.Errorf("stage folder inside an input: %v", err)
	}
}
