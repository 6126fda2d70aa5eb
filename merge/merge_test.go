package merge

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/hf"
)

// TestMergeMatchesTorch compares merged checkpoints with the averages
// PyTorch computed (scripts/merge_fixture.py), bit for bit.
func TestMergeMatchesTorch(t *testing.T) {
	tests := []struct {
		name     string
		models   []string
		weights  []float64
		dtype    hf.DType
		shard    int64
		expected string
		outDType hf.DType
	}{
		{"bf16 single+sharded", []string{"bf16-a", "bf16-b-sharded"}, []float64{7, 3}, "", 0, "expected-bf16-a7-b3.safetensors", hf.BF16},
		{"bf16 to f32, sharded out", []string{"bf16-a", "bf16-b-sharded"}, []float64{0.7, 0.3}, hf.F32, 4000, "expected-f32-a7-b3.safetensors", hf.F32},
		{"three f32", []string{"f32-c", "f32-d", "f32-e"}, []float64{1, 2, 1}, "", 0, "expected-f32-c1-d2-e1.safetensors", hf.F32},
		{"three f32 to f16", []string{"f32-c", "f32-d", "f32-e"}, []float64{0.25, 0.5, 0.25}, hf.F16, 0, "expected-f16-c1-d2-e1.safetensors", hf.F16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var models []string
			for _, m := range tc.models {
				models = append(models, filepath.Join("testdata", m))
			}
			out := filepath.Join(t.TempDir(), "merged")
			res, err := Merge(context.Background(), models, out, Options{Weights: tc.weights, DType: tc.dtype, MaxShardBytes: tc.shard})
			if err != nil {
				t.Fatal(err)
			}
			want, err := hf.OpenSafetensors(filepath.Join("testdata", tc.expected))
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			cfg, got, err := hf.ReadModelDir(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if tc.shard > 0 && !got.Sharded() {
				t.Error("output not sharded")
			}
			if res.Tensors != len(want.Tensors()) || len(got.Names()) != len(want.Tensors()) {
				t.Fatalf("%d tensors, want %d", len(got.Names()), len(want.Tensors()))
			}
			for _, ti := range want.Tensors() {
				info, ok := got.Info(ti.Name)
				if !ok || info.DType != tc.outDType {
					t.Fatalf("%s: %+v", ti.Name, info)
				}
				wantRaw, _ := want.Raw(ti.Name)
				gotRaw, err := got.Raw(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				if string(wantRaw) != string(gotRaw) {
					w, _ := want.Float32(ti.Name)
					g, _ := got.Float32(ti.Name)
					for i := range w {
						if w[i] != g[i] {
							t.Fatalf("%s[%d] = %v, torch %v", ti.Name, i, g[i], w[i])
						}
					}
				}
			}
			// Config and tokenizer files come from the first model.
			first, _ := hf.LoadConfig(filepath.Join(models[0], "config.json"))
			if cfg.RopeTheta != first.RopeTheta || cfg.HiddenSize != first.HiddenSize {
				t.Errorf("config not carried over: %+v", cfg)
			}
			if tc.dtype != "" && cfg.TorchDtype != torchName(tc.dtype) {
				t.Errorf("torch_dtype %q", cfg.TorchDtype)
			}
			tok, err := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
			if err != nil || !strings.Contains(string(tok), filepath.Base(models[0])) {
				t.Errorf("tokenizer_config: %s %v", tok, err)
			}
		})
	}
}

func TestMergeNotesRopeDifference(t *testing.T) {
	res, err := Merge(context.Background(), []string{"testdata/bf16-a", "testdata/bf16-b-sharded"}, filepath.Join(t.TempDir(), "o"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "rope_theta") {
		t.Errorf("notes %v", res.Notes)
	}
	if res.Weights[0] != 0.5 || res.Weights[1] != 0.5 {
		t.Errorf("default weights %v", res.Weights)
	}
}

// writeModel writes a tiny model folder whose tensors are given by name
// with their shapes and dtypes, all filled with value v.
func writeModel(t *testing.T, dir string, cfg string, tensors map[string][]int, dtypes map[string]hf.DType, v float32) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var list []hf.Tensor
	for name, shape := range tensors {
		n := 1
		for _, d := range shape {
			n *= d
		}
		dt := hf.F32
		if d, ok := dtypes[name]; ok {
			dt = d
		}
		x := hf.Tensor{Name: name, Shape: shape, DType: dt}
		if dt.IsFloat() {
			x.F32 = make([]float32, n)
			for i := range x.F32 {
				x.F32[i] = v
			}
		} else {
			x.Raw = make([]byte, n*dt.Size())
			x.Raw[0] = byte(v)
		}
		list = append(list, x)
	}
	if err := hf.WriteSafetensors(filepath.Join(dir, "model.safetensors"), list, nil); err != nil {
		t.Fatal(err)
	}
}

const tinyConfig = `{"model_type":"llama","vocab_size":8,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2}`

func TestMergeRefusesMismatches(t *testing.T) {
	base := map[string][]int{"a": {2, 3}, "b": {4}}
	tests := []struct {
		name    string
		cfg     string
		tensors map[string][]int
		dtypes  map[string]hf.DType
		want    string
	}{
		{"missing tensor", tinyConfig, map[string][]int{"a": {2, 3}}, nil, `tensor "b" of`},
		{"extra tensor", tinyConfig, map[string][]int{"a": {2, 3}, "b": {4}, "c": {1}}, nil, `tensor "c" of`},
		{"shape differs", tinyConfig, map[string][]int{"a": {3, 2}, "b": {4}}, nil, `tensor "a" has shape [2 3]`},
		{"dtype differs", tinyConfig, base, map[string]hf.DType{"b": hf.BF16}, `tensor "b" has dtype F32`},
		{"config differs", strings.Replace(tinyConfig, `"intermediate_size":16`, `"intermediate_size":32`, 1), base, nil, "intermediate_size differs"},
		{"non-float differs", tinyConfig, map[string][]int{"a": {2, 3}, "b": {4}, "i": {2}}, map[string]hf.DType{"i": hf.I64}, `"i" has dtype I64, which cannot be averaged`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first := map[string][]int{"a": {2, 3}, "b": {4}}
			var fdt map[string]hf.DType
			if _, ok := tc.tensors["i"]; ok {
				first["i"] = []int{2}
				fdt = map[string]hf.DType{"i": hf.I64}
			}
			writeModel(t, filepath.Join(dir, "m1"), tinyConfig, first, fdt, 1)
			writeModel(t, filepath.Join(dir, "m2"), tc.cfg, tc.tensors, tc.dtypes, 2)
			out := filepath.Join(dir, "out")
			_, err := Merge(context.Background(), []string{filepath.Join(dir, "m1"), filepath.Join(dir, "m2")}, out, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the folder", err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("failed merge left an output folder")
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 2 {
				t.Errorf("failed merge left files: %v", entries)
			}
		})
	}
}

func TestMergeCopiesEqualNonFloat(t *testing.T) {
	dir := t.TempDir()
	ts := map[string][]int{"a": {2}, "i": {3}}
	dt := map[string]hf.DType{"i": hf.I64}
	writeModel(t, filepath.Join(dir, "m1"), tinyConfig, ts, dt, 1)
	writeModel(t, filepath.Join(dir, "m2"), tinyConfig, ts, dt, 1)
	out := filepath.Join(dir, "out")
	if _, err := Merge(context.Background(), []string{filepath.Join(dir, "m1"), filepath.Join(dir, "m2")}, out, Options{Weights: []float64{1, 3}}); err != nil {
		t.Fatal(err)
	}
	ck, err := hf.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	raw, _ := ck.Raw("i")
	if len(raw) != 24 || raw[0] != 1 {
		t.Errorf("I64 tensor %v", raw)
	}
	if a, _ := ck.Float32("a"); a[0] != 1 {
		t.Errorf("a = %v", a)
	}
}

func TestWeightsAndOutput(t *testing.T) {
	tests := []struct {
		w    []float64
		n    int
		want string
	}{
		{[]float64{1, 0}, 2, "weight 2 is 0"},
		{[]float64{1, -1}, 2, "positive"},
		{[]float64{1, math.NaN()}, 2, "NaN"},
		{[]float64{1, math.Inf(1)}, 2, "+Inf"},
		{[]float64{1}, 2, "1 weights for 2 models"},
	}
	for _, tc := range tests {
		if _, err := NormalizeWeights(tc.w, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NormalizeWeights(%v): %v, want %q", tc.w, err, tc.want)
		}
	}
	if w, err := NormalizeWeights([]float64{1, 3}, 2); err != nil || w[0] != 0.25 || w[1] != 0.75 {
		t.Errorf("normalise: %v %v", w, err)
	}
	if _, err := ParseWeights("0.5,x"); err == nil {
		t.Error("ParseWeights accepted x")
	}
	ctx := context.Background()
	models := []string{"testdata/f32-c", "testdata/f32-e"}
	if _, err := Merge(ctx, models[:1], t.TempDir(), Options{}); err == nil {
		t.Error("one model accepted")
	}
	if _, err := Merge(ctx, []string{"testdata/f32-c", "testdata/f32-c"}, "testdata/f32-c", Options{Overwrite: true}); err == nil || !strings.Contains(err.Error(), "is the input") {
		t.Errorf("output = input: %v", err)
	}
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "junk"), []byte("x"), 0o644)
	if _, err := Merge(ctx, models, out, Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty output: %v", err)
	}
	if _, err := Merge(ctx, models, out, Options{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "junk")); err == nil {
		t.Error("overwrite kept the old folder's files")
	}
	if _, err := Merge(ctx, models, filepath.Join(t.TempDir(), "x"), Options{DType: hf.I32}); err == nil {
		t.Error("I32 output dtype accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Merge(cancelled, models, filepath.Join(t.TempDir(), "x"), Options{}); !strings.Contains(errString(err), "canceled") {
		t.Errorf("cancelled merge: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestMergeBoundedMemory merges two 96 MiB checkpoints (f32, 24 tensors of
// 4 MiB each) and samples the Go heap during the merge: the peak must stay
// under 16 MiB (chunk buffers, write buffers and uncollected garbage),
// far below one checkpoint's size.
func TestMergeBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	const tensors, elems = 24, 1 << 20 // 4 MiB per f32 tensor
	var ckBytes int64 = tensors * elems * 4
	for m := range 2 {
		var srcs []hf.TensorSource
		for i := range tensors {
			srcs = append(srcs, hf.TensorSource{
				Name: "t" + string(rune('a'+i)), Shape: []int{elems / 1024, 1024}, DType: hf.F32,
				Chunks: func(yield func([]float32) error) error {
					buf := make([]float32, 1<<16)
					for s := 0; s < elems; s += len(buf) {
						for j := range buf {
							buf[j] = float32(m*1000 + i + (s+j)%7)
						}
						if err := yield(buf); err != nil {
							return err
						}
					}
					return nil
				}})
		}
		md := filepath.Join(dir, "m"+string(rune('0'+m)))
		if err := hf.WriteCheckpoint(md, srcs, hf.WriteOptions{MaxShardBytes: 40 << 20}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(md, "config.json"), []byte(tinyConfig), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s runtime.MemStats
		for {
			runtime.ReadMemStats(&s)
			if s.HeapInuse > peak.Load() {
				peak.Store(s.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	out := filepath.Join(dir, "out")
	_, err := Merge(context.Background(), []string{filepath.Join(dir, "m0"), filepath.Join(dir, "m1")}, out, Options{Weights: []float64{1, 1}, MaxShardBytes: 40 << 20})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("checkpoint %d MiB, heap in use grew by at most %.1f MiB during the merge", ckBytes>>20, float64(grew)/(1<<20))
	if grew > 16<<20 {
		t.Errorf("heap grew by %d bytes during the merge of a %d-byte checkpoint", grew, ckBytes)
	}
	ck, err := hf.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	buf := make([]float32, 8)
	if err := ck.Float32Range("tc", 0, buf); err != nil {
		t.Fatal(err)
	}
	for j, v := range buf {
		if want := float32(1000+2*2+2*(j%7)) / 2; v != want {
			t.Fatalf("tc[%d] = %v, want %v", j, v, want)
		}
	}
	var idx map[string]any
	data, _ := os.ReadFile(filepath.Join(out, hf.IndexFileName))
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
}
