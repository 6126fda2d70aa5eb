package plan

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/torchlaunch"
)

func llama3(t *testing.T) Model {
	t.Helper()
	m, err := LoadModel("testdata/llama-3-8b")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Llama-3-8B's published sizes: 8,030,261,248 parameters; one decoder layer
// 4096·4096·2 (q, o) + 4096·1024·2 (k, v) + 3·4096·14336 (MLP) + 2·4096
// (norms) = 218,112,000; embeddings + LM head + final norm 2·128256·4096 +
// 4096 = 1,050,677,248.
func TestLlama3Sizes(t *testing.T) {
	m := llama3(t)
	if m.Params != 8_030_261_248 || m.ParamSource != FromConfig {
		t.Fatalf("params %d from %s", m.Params, m.ParamSource)
	}
	if got := layerParams(m.Config); got != 218_112_000 {
		t.Errorf("layer params %d", got)
	}
	if got := rootParams(m.Config); got != 1_050_677_248 {
		t.Errorf("root params %d", got)
	}
	// The bf16 checkpoint is 2·P = 16.06 GB; the training states are 16 bytes
	// per parameter: fp32 master 32.12 GB, fp32 grads 32.12 GB, m+v 64.24 GB.
	s := shapeOf(m, 39322, 4096, "bf16", true)
	mem := estimate(s, layout{sharding: "none", sp: 1}, 1)
	if 2*m.Params != 16_060_522_496 || mem.Weights != 32_121_044_992 || mem.Grads != 32_121_044_992 || mem.Optimizer != 64_242_089_984 {
		t.Errorf("states %+v", mem)
	}
	fsdp := estimate(s, layout{sharding: "fsdp", sp: 1}, 8)
	if fsdp.Weights != 4_015_130_624 || fsdp.Optimizer != 8_030_261_248 {
		t.Errorf("fsdp/8 states %+v", fsdp)
	}
	// Gathered (bf16 under MixedPrecisionPolicy): 2·(root + 2 layers); one
	// unsharded unit gradient, reduced in fp32: 4·root.
	if fsdp.Gathered != 2*(1_050_677_248+2*218_112_000) || fsdp.GradUnit != 4*1_050_677_248 {
		t.Errorf("gathered %d, grad unit %d", fsdp.Gathered, fsdp.GradUnit)
	}
}

// The activation terms for Llama-3-8B at Ls = 39322, bf16, by hand.
func TestLlama3Activations(t *testing.T) {
	const T = 39322
	s := shapeOf(llama3(t), T, 4096, "bf16", false)
	var m Memory
	activations(&m, s)
	if m.Cache != 0 {
		t.Errorf("cache %d with the cache off", m.Cache)
	}
	// 32 layers · T · 4096 · 4 bytes + cos/sin 2 · T · 128 · 4.
	if want := int64(32*T*4096*4 + 2*T*128*4); m.Boundary != want {
		t.Errorf("boundary %d, want %d", m.Boundary, want)
	}
	// Per token 2·(4·14336 + 7·4096 + 2·1024) + 4·(3·4096 + 32 + 2) = 225,416
	// bytes, plus the layer's bf16 weight casts 2·218,112,000.
	if want := int64(T*225_416 + 436_224_000); m.Layer != want {
		t.Errorf("layer %d, want %d", m.Layer, want)
	}
	if want := int64(3 * T * 14336 * 2); m.Backward != want {
		t.Errorf("backward %d, want %d", m.Backward, want)
	}
	if want := int64(3*T*4096*4 + 4096*128256*14); m.Loss != want {
		t.Errorf("loss %d, want %d", m.Loss, want)
	}
	if m.Activations != m.Boundary+max(m.Layer+m.Backward, m.Loss) {
		t.Errorf("activations %d", m.Activations)
	}
	// With autocast's cache: the bf16 casts of 32 layers and the LM head,
	// 2·(32·218,112,000 + 128256·4096) bytes, alive with the loss phase.
	activations(&m, shapeOf(llama3(t), T, 4096, "bf16", true))
	if want := int64(2 * (32*218_112_000 + 128256*4096)); m.Cache != want || m.Activations != m.Boundary+m.Loss-4*4096*128256+m.Cache {
		t.Errorf("cache %d (want %d), activations %d", m.Cache, want, m.Activations)
	}
	activations(&m, shapeOf(llama3(t), T, 4096, "fp32", true))
	if m.Cache != 0 {
		t.Errorf("fp32: cache %d", m.Cache)
	}
}

// 6·(P − embedding table) + 6·L·heads·head_dim·Ls, by hand.
func TestFlopsPerToken(t *testing.T) {
	got := flopsPerToken(llama3(t), 39322)
	want := 6*(8_030_261_248.0-128256*4096) + 6*32*4096*39322.0
	if got != want || math.Abs(got-75_953_627_136) > 1 {
		t.Errorf("flops/token %.0f, want %.0f", got, want)
	}
}

func TestChooseLayout(t *testing.T) {
	m := llama3(t)
	on := true
	tests := []struct {
		name            string
		in              Input
		sharding        string
		offload         bool
		sp              int
		ok              bool
		failedCheck     string
		noteContains    string
		fitsWithinBytes int64
	}{
		{name: "8x80 fsdp", in: Input{GPUs: 8, GPUMemGiB: 80, Ratio: 0.3}, sharding: "fsdp", sp: 1, ok: true},
		{name: "1x80 needs offload", in: Input{GPUs: 1, GPUMemGiB: 80, Ratio: 0.3}, sharding: "fsdp", offload: true, sp: 1, ok: true},
		{name: "1x24 nothing fits", in: Input{GPUs: 1, GPUMemGiB: 24, Ratio: 0.3}, sharding: "fsdp", offload: true, sp: 1, failedCheck: "fits"},
		{name: "8x80 short rows ddp is too big", in: Input{GPUs: 8, GPUMemGiB: 80, TrainLength: 2048}, sharding: "fsdp", sp: 1, ok: true},
		{name: "8x80 long rows need cp", in: Input{GPUs: 8, GPUMemGiB: 80, TrainLength: 131072, Offload: new(bool)}, sharding: "fsdp", sp: 2, ok: true},
		{name: "cp must divide gpus", in: Input{GPUs: 8, GPUMemGiB: 80, Ratio: 0.3, CP: 3}, sp: 3, sharding: "fsdp", failedCheck: "cp divides gpus"},
		{name: "cp with ddp", in: Input{GPUs: 8, GPUMemGiB: 80, TrainLength: 2048, CP: 2, Sharding: "ddp"}, sp: 2, sharding: "ddp", failedCheck: "cp with fsdp"},
		{name: "odd ls is padded", in: Input{GPUs: 8, GPUMemGiB: 80, TrainLength: 39322, CP: 4}, sp: 4, sharding: "fsdp", ok: true},
		{name: "cp group across nodes: advisory", in: Input{GPUs: 16, Nodes: 4, GPUMemGiB: 80, TrainLength: 131072, CP: 8}, sp: 8, sharding: "fsdp", ok: true},
		{name: "nodes", in: Input{GPUs: 8, Nodes: 3, GPUMemGiB: 80, Ratio: 0.3}, sharding: "fsdp", sp: 1, failedCheck: "nodes"},
		{name: "global batch not a multiple: advisory", in: Input{GPUs: 8, GPUMemGiB: 80, Ratio: 0.3, GlobalBatch: 20}, sharding: "fsdp", sp: 1, ok: true},
		{name: "forced offload", in: Input{GPUs: 8, GPUMemGiB: 80, Ratio: 0.3, Offload: &on}, sharding: "fsdp", offload: true, sp: 1, ok: true},
		{name: "host memory", in: Input{GPUs: 8, GPUMemGiB: 80, Ratio: 0.3, HostMemGiB: 48}, sharding: "fsdp", sp: 1, failedCheck: "host memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Model, in.TargetLength = m, 131072
			p, err := Make(in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Sharding != tc.sharding || p.Offload != tc.offload || p.CP != tc.sp || p.OK != tc.ok {
				t.Fatalf("got %s offload %v sp %d ok %v; want %s %v %d %v (notes %q, failed %q)", p.Sharding, p.Offload, p.CP, p.OK, tc.sharding, tc.offload, tc.sp, tc.ok, p.Notes, failed(p))
			}
			if tc.failedCheck != "" && !strings.Contains(strings.Join(failed(p), ","), tc.failedCheck) {
				t.Errorf("failed checks %q, want %q among them", failed(p), tc.failedCheck)
			}
			if tc.ok && float64(p.Memory.Total) > in.GPUMemGiB*gib {
				t.Errorf("ok but total %d > %g GiB", p.Memory.Total, in.GPUMemGiB)
			}
		})
	}
}

// 20 rows over 8 ranks: 3 passes each, 4 of the 24 zero-weighted.
func TestBatchCheck(t *testing.T) {
	p, err := Make(Input{Model: llama3(t), TargetLength: 131072, Ratio: 0.3, GPUs: 8, GPUMemGiB: 80, GlobalBatch: 20})
	if err != nil {
		t.Fatal(err)
	}
	c := batchCheck(Input{GlobalBatch: 20}, p)
	if p.RowsPerGPU != 3 || c.OK || !c.Warn || !strings.Contains(c.Detail, "4 rank passes run a zero-weighted row") {
		t.Errorf("rows per GPU %d, check %+v", p.RowsPerGPU, c)
	}
}

func TestBadInput(t *testing.T) {
	m := llama3(t)
	base := Input{Model: m, TargetLength: 131072, Ratio: 0.3, GPUs: 8, GPUMemGiB: 80}
	tests := []struct {
		edit func(*Input)
		want string
	}{
		{func(in *Input) { in.Model = Model{} }, "model:"},
		{func(in *Input) { in.TargetLength = 0 }, "target length 0"},
		{func(in *Input) { in.Ratio = 1.5 }, "ratio 1.5"},
		{func(in *Input) { in.TrainLength = 200000 }, "train length 200000: longer than the target length"},
		{func(in *Input) { in.GPUs = 0 }, "gpus 0"},
		{func(in *Input) { in.GPUMemGiB = -1 }, "gpu memory (GiB) -1"},
		{func(in *Input) { in.GPUMemGiB = math.NaN() }, "gpu memory (GiB) NaN"},
		{func(in *Input) { in.Precision = "fp8" }, `precision "fp8"`},
		{func(in *Input) { in.Sharding = "zero2" }, `sharding "zero2"`},
		{func(in *Input) { in.Sharding = "none" }, "sharding none: runs one process, but gpus is 8"},
		{func(in *Input) { on := true; in.Offload, in.Sharding = &on, "ddp" }, "cpu offload: needs sharding fsdp"},
		{func(in *Input) { in.MFU = 1.2 }, "mfu 1.2"},
		{func(in *Input) { in.CP = -2 }, "context parallel -2"},
	}
	for _, tc := range tests {
		in := base
		tc.edit(&in)
		_, err := Make(in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %v, want one line containing %q", err, tc.want)
		}
	}
}

func TestTime(t *testing.T) {
	m := llama3(t)
	in := Input{Model: m, TargetLength: 131072, Ratio: 0.3, GPUs: 8, GPUMemGiB: 80, Steps: 10, GlobalBatch: 8}
	p, err := Make(in)
	if err != nil {
		t.Fatal(err)
	}
	tm := p.Time
	if tm.TokensPerStep != 8*39322 || tm.TotalTokens != 80*39322 {
		t.Errorf("tokens %d per step, %d in all", tm.TokensPerStep, tm.TotalTokens)
	}
	want := 8 * 312e12 * 0.35 / tm.FlopsPerToken
	if math.Abs(tm.TokensPerSec-want) > 1e-6*want || !strings.HasPrefix(tm.Source, "assumed") {
		t.Errorf("assumed throughput %g (%s), want %g", tm.TokensPerSec, tm.Source, want)
	}
	in.TokensPerSec = 10000
	p, _ = Make(in)
	tm = p.Time
	if tm.Source != "measured" || tm.Seconds != float64(80*39322)/10000 || math.Abs(tm.MFU-10000*tm.FlopsPerToken/(8*312e12)) > 1e-12 {
		t.Errorf("measured: %+v", tm)
	}
}

func TestLoadModelWithWeights(t *testing.T) {
	m, err := LoadModel("../merge/testdata/bf16-b-sharded")
	if err != nil {
		t.Fatal(err)
	}
	if m.Params != 3632 || m.ParamSource != FromHeaders {
		t.Errorf("params %d from %s, want 3632 from the headers", m.Params, m.ParamSource)
	}
	if _, err := LoadModel(t.TempDir()); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestWriteLaunch(t *testing.T) {
	m := llama3(t)
	p, err := Make(Input{Model: m, TargetLength: 131072, Ratio: 0.3, GPUs: 16, Nodes: 2, GPUMemGiB: 80})
	if err != nil || !p.OK {
		t.Fatalf("%v %v", err, failed(p))
	}
	path := filepath.Join(t.TempDir(), "launch.json")
	if err := WriteLaunch(path, p, ""); err == nil || !strings.Contains(err.Error(), "master addr") {
		t.Errorf("2 nodes without master addr: %v", err)
	}
	if err := WriteLaunch(path, p, "node0"); err != nil {
		t.Fatal(err)
	}
	l, err := torchlaunch.LoadLaunch(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.NprocPerNode != 8 || l.NNodes != 2 || l.MasterAddr != "node0" || l.Sharding != "fsdp" || l.CPUOffload ||
		l.ContextParallel != 1 || l.CEChunkTokens != 4096 || !*l.ActivationCheckpointing || len(l.Plan) == 0 {
		t.Errorf("launch %+v", l)
	}
	p, _ = Make(Input{Model: m, TargetLength: 131072, Ratio: 0.3, GPUs: 1, GPUMemGiB: 24})
	if err := WriteLaunch(path, p, ""); err == nil || !strings.Contains(err.Error(), "fits") {
		t.Errorf("failed plan written: %v", err)
	}
}

// docs/gpu.md shows plan's output; it must be what plan prints today.
func TestDocsMatchPlan(t *testing.T) {
	doc, err := os.ReadFile("../docs/gpu.md")
	if err != nil {
		t.Fatal(err)
	}
	m := llama3(t)
	m.Dir = "plan/testdata/llama-3-8b" // as the docs' commands name it
	for _, tc := range []struct{ target, gpus int }{{131072, 8}, {131072, 1}, {524288, 8}} {
		p, err := Make(Input{Model: m, TargetLength: tc.target, Ratio: 0.3, GPUs: tc.gpus, GPUMemGiB: 80})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		WriteText(&b, p)
		if !strings.Contains(string(doc), b.String()) {
			t.Errorf("docs/gpu.md lacks the current plan for %d tokens on %d × 80 GB:\n%s", tc.target, tc.gpus, b.String())
		}
	}
}

// DDP replicates the 16 bytes per parameter and adds its bucket copy of the
// gradients.
func TestDDPMemory(t *testing.T) {
	s := shapeOf(llama3(t), 4096, 4096, "bf16", false)
	m := estimate(s, layout{sharding: "ddp", sp: 1}, 8)
	p := int64(8_030_261_248)
	if m.Weights != 4*p || m.Grads != 4*p || m.Optimizer != 8*p || m.Buckets != 4*p || m.Gathered != 0 {
		t.Errorf("ddp %+v", m)
	}
}

// A 512k row over 4 GPUs: each holds 39 322 of the 157 288 padded tokens;
// the ring's working set and transfers by the package doc's formulas,
// worked by hand for Llama-3-8B (h 4096, kv 1024, 32 heads, 32 layers, bf16).
// The degree is asked for (with no offload): the planner's own choice at
// 512k on 8 × 80 GB is context parallel 2 with offload (docs/gpu.md §3).
func TestContextParallel(t *testing.T) {
	m := llama3(t)
	p, err := Make(Input{Model: m, TargetLength: 524288, Ratio: 0.3, GPUs: 8, GPUMemGiB: 80, CP: 4, Offload: new(bool)})
	if err != nil {
		t.Fatal(err)
	}
	if p.CP != 4 || p.DataParallel != 2 || p.Sharding != "fsdp" || p.Offload || !p.OK {
		t.Fatalf("layout cp %d dp %d %s offload %v ok %v; want cp 4, dp 2, fsdp, no offload, ok", p.CP, p.DataParallel, p.Sharding, p.Offload, p.OK)
	}
	if want := int64(4*39322*(4*4096+12*1024+2*32) + 4<<28); p.Memory.Ring != want {
		t.Errorf("ring memory %d, want %d", p.Memory.Ring, want)
	}
	if want := int64(32 * 39322 * 1024 * (4*3*2 + 3*(2*2+8) + 8)); p.Time.RingBytesPerRow != want {
		t.Errorf("ring bytes per row %d, want %d", p.Time.RingBytesPerRow, want)
	}
	if want := 104 * 48 * float64(p.Time.RingBytesPerRow) / 100e9; math.Abs(p.Time.RingSeconds-want) > 1e-6*want {
		t.Errorf("ring seconds %g, want %g", p.Time.RingSeconds, want)
	}
	if l, err := LaunchOf(p, ""); err != nil || l.ContextParallel != 4 || l.World() != 8 || l.Validate() != nil {
		t.Errorf("launch %+v, %v: want context_parallel 4 on 8 ranks, valid", l, err)
	}
	one, _ := Make(Input{Model: m, TargetLength: 524288, Ratio: 0.3, GPUs: 8, GPUMemGiB: 80, CP: 1})
	if one.OK || one.Memory.Ring != 0 || one.Time.RingSeconds != 0 {
		t.Errorf("cp 1 at 512k: ok %v, ring %d B, %g s; want a failing fit and no ring", one.OK, one.Memory.Ring, one.Time.RingSeconds)
	}
	sliding := m
	cfg := *m.Config
	cfg.SlidingWindow = 4096
	sliding.Config = &cfg
	if sw, _ := Make(Input{Model: sliding, TargetLength: 524288, Ratio: 0.3, GPUs: 8, GPUMemGiB: 80}); sw.OK || !strings.Contains(strings.Join(failed(sw), ","), "cp without sliding window") {
		t.Errorf("cp with a sliding window: ok %v, failed %q; want the check to fail", sw.OK, failed(sw))
	}
	measured, _ := Make(Input{Model: m, TargetLength: 524288, Ratio: 0.3, GPUs: 8, GPUMemGiB: 80, TokensPerSec: 5000})
	if measured.Time.RingSeconds != 0 {
		t.Errorf("a measured throughput includes the ring already; got %g s more", measured.Time.RingSeconds)
	}
}
