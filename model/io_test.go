package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

func TestSaveLoad(t *testing.T) {
	cases := []struct {
		name  string
		tied  bool
		dtype string
		tol   float64 // relative rounding of the stored dtype
	}{
		{"f32 untied", false, "f32", 0},
		{"f32 tied", true, "f32", 0},
		{"bf16", false, "bf16", 1.0 / 256},
		{"f16 tied", true, "f16", 1.0 / 2048},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.TieWordEmbeddings = tc.tied
			m, err := New(cfg, 7)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "out")
			if err := m.Save(dir, tc.dtype); err != nil {
				t.Fatal(err)
			}
			ck, err := hf.OpenCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, hasHead := ck.Info("lm_head.weight")
			ck.Close()
			if hasHead == tc.tied {
				t.Fatalf("tied %v but lm_head.weight present = %v", tc.tied, hasHead)
			}
			m2, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(m2.Params()) != len(m.Params()) {
				t.Fatalf("loaded %d tensors, saved %d", len(m2.Params()), len(m.Params()))
			}
			for i, p := range m.Params() {
				q := m2.Params()[i]
				if q.Name != p.Name {
					t.Fatalf("tensor %d: %s vs %s", i, q.Name, p.Name)
				}
				for j := range p.W {
					d := float64(p.W[j] - q.W[j])
					if d < 0 {
						d = -d
					}
					a := float64(p.W[j])
					if a < 0 {
						a = -a
					}
					if d > tc.tol*a {
						t.Fatalf("%s[%d]: saved %v, loaded %v", p.Name, j, p.W[j], q.W[j])
					}
				}
			}
			if m2.Cfg.TieWordEmbeddings != tc.tied || m2.lmHead != m2.embed && tc.tied {
				t.Fatalf("tied embeddings not restored")
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	cfg := tinyConfig()
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir, "f32"); err != nil {
		t.Fatal(err)
	}
	// A config with one more layer than the weights: missing tensor.
	c2 := m.Cfg.Clone()
	c2.NumHiddenLayers = 3
	c2.HeadDim, c2.NumKeyValueHeads = 4, 2
	if err := c2.Save(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "model.layers.2") {
		t.Fatalf("missing layer: got %v", err)
	}
	// Fewer layers than the weights: unexpected tensor.
	c2.NumHiddenLayers = 1
	c2.Save(filepath.Join(dir, "config.json"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "unexpected tensor model.layers.1") {
		t.Fatalf("extra layer: got %v", err)
	}
	// Different intermediate size: shape mismatch.
	c2.NumHiddenLayers = 2
	c2.IntermediateSize = 20
	c2.Save(filepath.Join(dir, "config.json"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("wrong shape: got %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("missing folder: no error")
	}
	os.Remove(filepath.Join(dir, "model.safetensors"))
	if _, err := Load(dir); err == nil {
		t.Fatal("missing weights: no error")
	}
	if err := m.Save(t.TempDir(), "int8"); err == nil {
		t.Fatal("Save int8: no error")
	}
}

// TestLoadPrecision: the loaded model multiplies in the precision asked
// for, and a bad precision or folder is an error naming the folder.
func TestLoadPrecision(t *testing.T) {
	m, err := New(tinyConfig(), 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "m")
	if err := m.Save(dir, "f32"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Precision{FP32, BF16} {
		got, err := LoadPrecision(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		if got.prec != p {
			t.Fatalf("LoadPrecision(%v): precision %v", p, got.prec)
		}
	}
	if _, err := LoadPrecision(dir, Precision(9)); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("bad precision: error %v, want it to name %s", err, dir)
	}
	if _, err := LoadPrecision(filepath.Join(dir, "missing"), FP32); err == nil {
		t.Fatal("missing folder: no error")
	}
}
