package tinybase

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/model"
)

// tinyOptions is a build small enough for a test: every phase runs a step
// or two on a 1-layer, d = 32 model.
func tinyOptions(out string) Options {
	o := DefaultOptions()
	o.Output = out
	o.Window, o.Hidden, o.Layers, o.Heads, o.KVHeads, o.Intermediate = 128, 32, 1, 2, 1, 64
	o.Steps, o.Batch, o.Warmup, o.RetrievalSteps, o.CopySteps, o.FinalSteps = 2, 2, 1, 1, 2, 2
	o.CheckpointEvery = 1
	o.SaveDType = "float32"
	return o
}

func TestBuildPhases(t *testing.T) {
	if testing.Short() {
		t.Skip("tokenizes the whole corpus")
	}
	dir := t.TempDir()
	o := tinyOptions(filepath.Join(dir, "a"))
	info, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(o.Output, "train-final"); info.ModelDir != want || info.Steps != 2+1+2+2 {
		t.Fatalf("model %s after %d steps, want %s after 7", info.ModelDir, info.Steps, want)
	}
	for _, d := range []string{"train", "train-retrieval", "train-copy", "train-final", "build.json"} {
		if _, err := os.Stat(filepath.Join(o.Output, d)); err != nil {
			t.Errorf("phase output missing: %v", err)
		}
	}
	checkBuildManifest(t, o, "train", "train-retrieval", "train-copy", "train-final")
	m, err := model.Load(info.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cfg.MaxPositionEmbeddings != 128 || m.Cfg.HiddenSize != 32 {
		t.Fatalf("final model: window %d, hidden %d", m.Cfg.MaxPositionEmbeddings, m.Cfg.HiddenSize)
	}
	// Rerunning resumes every phase at its end: same final loss.
	again, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if again.LastLoss != info.LastLoss || again.ModelDir != info.ModelDir {
		t.Fatalf("rerun: loss %v in %s, first run %v in %s", again.LastLoss, again.ModelDir, info.LastLoss, info.ModelDir)
	}
	// Starting from a phase-2 model runs phases 3 and 4 only, and gives
	// the same model as the full build (same data, same seed).
	o2 := tinyOptions(filepath.Join(dir, "b"))
	o2.Phase2Model = filepath.Join(o.Output, "train-retrieval")
	info2, err := Build(context.Background(), o2)
	if err != nil {
		t.Fatal(err)
	}
	if info2.Steps != 2+2 {
		t.Fatalf("from a phase-2 model: %d steps, want 4", info2.Steps)
	}
	checkBuildManifest(t, o2, "train-copy", "train-final")
	a, err := os.ReadFile(filepath.Join(info.ModelDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(info2.ModelDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Fatal("phases 3–4 from the phase-2 model differ from the full build's")
	}
	// Another copy-phase LR redoes that phase and the next, and says so.
	var log bytes.Buffer
	o.Log, o.CopyLR = &log, 2*o.CopyLR
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"train: done already", "train-retrieval: done already", "data-copy: done already",
		"train-copy: inputs changed (hyper.lr)", "train-final: inputs changed (upstream train-copy)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("rebuild with another copy LR: log lacks %q:\n%s", want, log.String())
		}
	}
}

// checkBuildManifest checks the build's data manifest: the phases that
// ran, in order, with the digests of the rows Regenerate makes for o.
func checkBuildManifest(t *testing.T, o Options, phases ...string) {
	t.Helper()
	got, err := ReadManifest(filepath.Join(o.Output, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := Regenerate(o)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]RowsDigest{}
	for _, s := range stages {
		digests[s.Data] = DigestRows(s.Rows)
	}
	want, err := NewManifest(o, digests)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got.Phases {
		names = append(names, p.Stage)
	}
	if !slices.Equal(names, phases) || !reflect.DeepEqual(got, want) {
		t.Errorf("%s: phases %q, want %q; manifest %+v, regenerated %+v", ManifestFile, names, phases, got, want)
	}
}
