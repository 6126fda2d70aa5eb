package merge

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// TestMergeRejectsNonFinite: a NaN or infinite weight in an input is an
// error naming the tensor and the model, not an output that fails later in
// score's JSON output.
func TestMergeRejectsNonFinite(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		for _, dt := range []hf.DType{hf.F32, hf.BF16} {
			dir := t.TempDir()
			ts := map[string][]int{"a": {2, 3}, "b": {4}}
			writeModel(t, filepath.Join(dir, "m1"), tinyConfig, ts, map[string]hf.DType{"a": dt, "b": dt}, 1)
			writeModel(t, filepath.Join(dir, "m2"), tinyConfig, ts, map[string]hf.DType{"a": dt, "b": dt}, v)
			out := filepath.Join(dir, "out")
			_, err := Merge(context.Background(), []string{filepath.Join(dir, "m1"), filepath.Join(dir, "m2")}, out, Options{})
			if err == nil || !strings.Contains(err.Error(), `" of `+filepath.Join(dir, "m2")+" has the value") {
				t.Errorf("%v %s: error %v", v, dt, err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%v %s: a refused merge left an output", v, dt)
			}
		}
	}
}

// TestMergeCleansStaleTemporaries: the temporary folders a killed merge
// left next to the output are removed by the next merge into it.
func TestMergeCleansStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	stale := []string{filepath.Join(dir, ".out.tmp-123"), filepath.Join(dir, ".out.tmp-456.old")}
	for _, s := range stale {
		if err := os.MkdirAll(filepath.Join(s, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(s, "model.safetensors"), make([]byte, 1000), 0o644)
	}
	other := filepath.Join(dir, ".other.tmp-1")
	os.Mkdir(other, 0o755)
	res, err := Merge(context.Background(), []string{"testdata/f32-c", "testdata/f32-e"}, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stale {
		if _, err := os.Stat(s); err == nil {
			t.Errorf("%s is still there", s)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another output's temporary folder was removed: %v", err)
	}
	if n := strings.Count(strings.Join(res.Notes, "\n"), "left by an interrupted merge"); n != 2 {
		t.Errorf("notes %q", res.Notes)
	}
}

// TestMergeOutputLinkedToInput is F4 for merge: an output that is a
// symbolic link to an input model is refused, even with Overwrite.
func TestMergeOutputLinkedToInput(t *testing.T) {
	dir := t.TempDir()
	in, err := filepath.Abs("testdata/f32-c")
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	_, err = Merge(context.Background(), []string{"testdata/f32-c", "testdata/f32-e"}, link, Options{Overwrite: true})
	if err == nil || !strings.Contains(err.Error(), "is the input") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(in, "config.json")); err != nil {
		t.Fatalf("input damaged: %v", err)
	}
}
