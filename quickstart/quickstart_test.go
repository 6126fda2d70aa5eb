package quickstart

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/testfix"
	"github.com/longrecipe/longrecipe/recipe"
)

func TestQuickstartTiny(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	testfix.Llama{Tied: true, DType: "bf16"}.Write(t, base)
	var log bytes.Buffer
	o := Options{Output: filepath.Join(dir, "qs"), Base: base, Factor: 2, Ratio: 0.3, ExtendSteps: 2, AnnealSteps: 1, Samples: 1, Seed: 1, Threads: 2, Log: &log}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, row := range []string{"| base |", "| start |", "| extend |", "| anneal |", "| merge |", "Perplexity", "minus the start model", "| *copy baseline* |"} {
		if !strings.Contains(rep.Markdown, row) {
			t.Fatalf("report lacks %q:\n%s", row, rep.Markdown)
		}
	}
	// The recipe file is written and valid, and names the 2× window.
	b, err := os.ReadFile(rep.RecipeFile)
	if err != nil || !strings.Contains(string(b), "target_length = 512") {
		t.Fatalf("recipe.toml: %v\n%s", err, b)
	}
	cfg, err := hf.LoadConfig(filepath.Join(rep.Final, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxPositionEmbeddings != 512 || cfg.TorchDtype != "bfloat16" {
		t.Fatalf("final model: window %d dtype %s", cfg.MaxPositionEmbeddings, cfg.TorchDtype)
	}
	// A rerun skips every stage.
	log.Reset()
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "done already"); n != 7 {
		t.Fatalf("rerun skipped %d stages, want 7 (the six and extend-start):\n%s", n, log.String())
	}
}

// TestRecipeRoundTrip: the encoded recipe reads back to the same settings.
func TestRecipeRoundTrip(t *testing.T) {
	o := DefaultOptions()
	o.Output = "/work"
	want := Recipe(o, "/work/base", 256)
	var b bytes.Buffer
	if err := want.Encode(&b); err != nil {
		t.Fatal(err)
	}
	got, err := recipe.Parse(b.Bytes(), "recipe.toml", "/work")
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.Base.Model != "/work/base" || got.Data.Corpus != "/work/corpus-train.jsonl" || got.Eval.PPLCorpus != "/work/corpus-heldout.jsonl" {
		t.Fatalf("paths: %+v %+v %q", got.Base, got.Data, got.Eval.PPLCorpus)
	}
	if !reflect.DeepEqual(got.Extend, want.Extend) || !reflect.DeepEqual(got.Anneal.Train, want.Anneal.Train) || got.Eval.Samples != want.Eval.Samples ||
		!slices.Equal(got.Eval.Lengths, []int{256, 512, 1024, 2048}) || !slices.Equal(got.Eval.Tasks, want.Eval.Tasks) {
		t.Fatalf("read back:\n%+v\n%+v\nwant\n%+v\n%+v", got.Extend, got.Eval, want.Extend, want.Eval)
	}
	if strings.Contains(b.String(), "launch") {
		t.Fatalf("the go backend's recipe has a launch table:\n%s", b.String())
	}
}
