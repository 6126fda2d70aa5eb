package gguf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// TestImportChecksTensorsAgainstMetadata: a GGUF whose tensors contradict
// its metadata (block count, a missing or transposed tensor, sizes) is
// refused before anything is written, the error naming the GGUF and the
// tensor; before this check such a file was imported into a folder no
// command could load.
func TestImportChecksTensorsAgainstMetadata(t *testing.T) {
	swap := func(name string) func(string, []int64) []int64 {
		return func(n string, d []int64) []int64 {
			if n == name {
				return []int64{d[1], d[0]}
			}
			return d
		}
	}
	drop := func(name string) func(string, []int64) []int64 {
		return func(n string, d []int64) []int64 {
			if n == name {
				return nil
			}
			return d
		}
	}
	cases := []struct {
		name string
		meta map[string]uint32
		dims func(string, []int64) []int64
		want string
	}{
		{"block count", map[string]uint32{"llama.block_count": 2}, nil, `tensor "blk.1.`},
		{"missing", nil, drop("blk.0.ffn_up.weight"), `tensor "blk.0.ffn_up.weight" is missing`},
		{"missing norm", nil, drop("output_norm.weight"), `tensor "output_norm.weight" is missing`},
		{"transposed", nil, swap("blk.0.attn_k.weight"), `tensor "blk.0.attn_k.weight" has shape [8 4] as model.layers.0.self_attn.k_proj.weight, the metadata implies [4 8] (transposed)`},
		{"transposed down", nil, swap("blk.0.ffn_down.weight"), `tensor "blk.0.ffn_down.weight" has shape [16 8]`},
		{"ffn size", map[string]uint32{"llama.feed_forward_length": 32}, nil, `tensor "blk.0.ffn_gate.weight" has shape [16 8]`},
		{"extra block", nil, func(n string, d []int64) []int64 { return d }, ""},
	}
	for _, c := range cases {
		dir := t.TempDir()
		in := writeFile(t, dir, "m.gguf", tinyModelTensors("llama", "qwen2", nil, c.meta, c.dims))
		_, err := Import(context.Background(), in, filepath.Join(dir, "out"), ImportOptions{})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), in) {
			t.Errorf("%s: error %v, want one naming %s and %q", c.name, err, in, c.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%s: left %d entries in the folder", c.name, len(entries))
		}
	}
	// A block beyond block_count is a tensor the metadata does not have.
	dir := t.TempDir()
	in := writeFile(t, dir, "m.gguf", tinyModel("llama", "qwen2", func(g *builder) {
		g.tensor("blk.1.attn_norm.weight", F32, []int64{8}, make([]byte, 32))
	}))
	_, err := Import(context.Background(), in, filepath.Join(dir, "out"), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), `tensor "blk.1.attn_norm.weight"`) || !strings.Contains(err.Error(), "block_count 1") {
		t.Errorf("extra block: %v", err)
	}
}

// TestImportCancelled: a cancelled context stops the import at the next
// chunk and publishes nothing, leaving no temporary behind.
func TestImportCancelled(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "m.gguf", tinyModel("llama", "qwen2", nil))
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithCancel(context.Background())
	written := 0
	_, err := Import(ctx, in, out, ImportOptions{DType: hf.F32, Progress: func(int64) {
		if written++; written == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if written != 1 {
		t.Errorf("%d tensors written after the cancel, want none", written-1)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left %d entries in the folder (want only the input)", len(entries))
	}
	// Cancelled from the start: nothing at all.
	if _, err := Import(ctx, in, out, ImportOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before the start: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists after a cancelled import: %v", err)
	}
}
