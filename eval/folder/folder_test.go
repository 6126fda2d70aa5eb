package folder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/internal/testfix"
)

// patchConfig sets keys of dir/config.json.
func patchConfig(t *testing.T, dir string, kv map[string]any) {
	t.Helper()
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for k, v := range kv {
		raw[k] = v
	}
	if b, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	testfix.WriteFile(t, p, b)
}

// TestStopsFromConfig: generation stops at config.json's eos_token_id, not
// only at the tokenizer's EOS (the recipe used to ignore the config's).
func TestStopsFromConfig(t *testing.T) {
	dir := testfix.Llama{}.Write(t, filepath.Join(t.TempDir(), "m"))
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, eos := testfix.ShippedStops(t)
	if !slices.Equal(s.Engine.Stops, []int32{int32(eos)}) {
		t.Fatalf("stops %v, want the tokenizer's EOS %d only (config has none)", s.Engine.Stops, eos)
	}
	p, err := (&eval.Generator{Tok: s.Tok, Seed: 1}).Generate(eval.Passkey, 128, 0.5, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.MaxNew = 8
	ids, err := s.Model.Generate(p.Tokens, p.MaxNew, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first generated token not generated before becomes a stop id
	// of config.json; the output must end just before it.
	k := 1
	for k < len(ids) && slices.Contains(ids[:k], ids[k]) {
		k++
	}
	if k == len(ids) {
		t.Skip("the random model repeats one token")
	}
	patchConfig(t, dir, map[string]any{"eos_token_id": []int{int(ids[k]), eos}})
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Engine.Stops, ids[k]) || len(s.Engine.Stops) != 2 {
		t.Fatalf("stops %v, want %d and %d once each", s.Engine.Stops, ids[k], eos)
	}
	got, err := s.Engine.Complete(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if want := s.Tok.Decode(ids[:k], true); got != want {
		t.Fatalf("output %q, want %q (stopped before config eos %d)", got, want, ids[k])
	}
}

// TestOptions checks the decisions Open makes for an evaluation: the
// haystack by name, the perplexity text and window.
func TestOptions(t *testing.T) {
	dir := testfix.Llama{Window: 256}.Write(t, filepath.Join(t.TempDir(), "m"))
	text := filepath.Join(t.TempDir(), "hay.txt")
	testfix.WriteFile(t, text, []byte(strings.Repeat("A short text. It is repeated to fill a prompt. ", 30)))
	cases := []struct {
		name    string
		opt     Options
		lengths []int
		noisy   bool
		source  string
		window  int
	}{
		{"defaults", Options{}, []int{128, 512}, false, HeldOutSource, 256},
		{"capped window", Options{}, []int{64, 128}, false, HeldOutSource, 128},
		{"noise", Options{Haystack: "noise"}, []int{512}, true, HeldOutSource, 256},
		{"repeat is noise", Options{Haystack: "repeat"}, []int{512}, true, HeldOutSource, 256},
		{"heldout", Options{Haystack: "heldout", PPLWindow: 100}, []int{512}, false, HeldOutSource, 100},
		{"file", Options{Haystack: text, PPLWindow: -1}, []int{512}, false, text, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(dir, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			o, err := s.Options(eval.Options{Tasks: []string{eval.Passkey, eval.PerplexityTask}, Lengths: c.lengths})
			if err != nil {
				t.Fatal(err)
			}
			if o.Haystack.Noisy() != c.noisy || o.PPLSource != c.source || o.PPLWindow != c.window || len(o.PPLDocs) == 0 {
				t.Fatalf("noisy %v, ppl %q window %d (%d docs); want %v, %q, %d", o.Haystack.Noisy(), o.PPLSource, o.PPLWindow, len(o.PPLDocs), c.noisy, c.source, c.window)
			}
			if o.ModelName != "m" || o.TokenizerName != filepath.Join(dir, "tokenizer.json") {
				t.Fatalf("names %q, %q", o.ModelName, o.TokenizerName)
			}
			if o.Parallel != runtime.GOMAXPROCS(0) {
				t.Fatalf("a tiny model answers %d prompts at once, want one per thread (%d)", o.Parallel, runtime.GOMAXPROCS(0))
			}
			if o, _ := s.Options(eval.Options{Tasks: []string{eval.Passkey}, Lengths: c.lengths, Parallel: 3}); o.Parallel != 3 {
				t.Fatalf("Parallel 3 became %d", o.Parallel)
			}
		})
	}
	patchConfig(t, dir, map[string]any{"rope_scaling": map[string]any{"rope_type": "linear", "factor": 4.0, "original_max_position_embeddings": 64}})
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := s.Options(eval.Options{Tasks: []string{eval.PerplexityTask}, Lengths: []int{512}}); err != nil || o.PPLWindow != 64 {
		t.Fatalf("rope_scaling's original window: %d (%v), want 64", o.PPLWindow, err)
	}
	if _, err := OpenHaystack(filepath.Join(t.TempDir(), "missing.txt")); err == nil {
		t.Fatal("a missing haystack file was accepted")
	}
}

// TestEvaluate: the step opens the folder, runs and writes a report that
// reads back as the results it returned; a missing folder is an error.
func TestEvaluate(t *testing.T) {
	dir := testfix.Llama{}.Write(t, filepath.Join(t.TempDir(), "m"))
	out := filepath.Join(t.TempDir(), "report")
	o := eval.Options{Tasks: []string{eval.Passkey}, Lengths: []int{128}, Depths: []float64{0.5}, Samples: 1, Seed: 1}
	res, err := Evaluate(context.Background(), dir, Options{Haystack: "noise"}, o, out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := eval.LoadResults(out)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := res.Mean(eval.Passkey, 128)
	if m, ok := got.Mean(eval.Passkey, 128); !ok || m != want {
		t.Fatalf("report passkey@128 %v (%v), returned %v", m, ok, want)
	}
	if _, err := Evaluate(context.Background(), filepath.Join(dir, "none"), Options{}, o, t.TempDir()); err == nil {
		t.Fatal("missing model folder: no error")
	}
}
