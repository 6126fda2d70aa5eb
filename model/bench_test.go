package model

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/kernels"
)

// benchConfig is the tiny Llama of the benchmarks (and of
// scripts/model/bench_torch.py): 6 layers, d=384, 6 heads, vocab 8192,
// intermediate 1024.
func benchConfig() *hf.Config {
	return &hf.Config{
		ModelType: "llama", VocabSize: 8192, HiddenSize: 384, IntermediateSize: 1024,
		NumHiddenLayers: 6, NumAttentionHeads: 6, NumKeyValueHeads: 6, HeadDim: 64,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 32768,
		HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: -1, EOSTokenID: -1,
	}
}

// peakRSS returns VmHWM from /proc/self/status (Linux), or "unknown".
func peakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

// benchPrecisions are the precisions the benchmarks run: both, or the one
// named by LONGRECIPE_BENCH_PRECISION.
func benchPrecisions() []Precision {
	if p, err := ParsePrecision(os.Getenv("LONGRECIPE_BENCH_PRECISION")); err == nil && os.Getenv("LONGRECIPE_BENCH_PRECISION") != "" {
		return []Precision{p}
	}
	return []Precision{FP32, BF16}
}

// peakFor returns the measured instruction peak of precision p's
// arithmetic on all threads (GFLOP/s, best chunks, so little affected by
// other load): the FMA peak for fp32, the VDPBF16PS peak for bf16 (0
// where the CPU has none).
func peakFor(p Precision) float64 {
	if p == BF16 {
		return kernels.PeakBF16GFLOPS(0, 200*time.Millisecond)
	}
	return kernels.PeakGFLOPS(0, 200*time.Millisecond)
}

// BenchmarkTrainStep times ForwardBackward on one sequence of T tokens of
// the tiny Llama in each precision and reports tokens/s, model GFLOP/s and
// MFU against the measured peak of that precision (peakFor): MFU from the
// wall-clock time, cpu-MFU from the process CPU time (model FLOPs per
// CPU-second over the peak of one thread), which a machine shared with
// other work distorts much less. Run with e.g.
//
//	go test ./model -run '^$' -bench TrainStep -benchtime 3x
func BenchmarkTrainStep(b *testing.B) {
	for _, prec := range benchPrecisions() {
		peak := peakFor(prec)
		for _, tc := range []struct {
			T    int
			ckpt bool
		}{{1024, false}, {1024, true}, {4096, false}, {4096, true}} {
			b.Run(fmt.Sprintf("T=%d/ckpt=%v/%v", tc.T, tc.ckpt, prec), func(b *testing.B) {
				m, err := New(benchConfig(), 1)
				if err != nil {
					b.Fatal(err)
				}
				m.SetPrecision(prec)
				rng := rand.New(rand.NewPCG(1, 1))
				batch := &Batch{Tokens: [][]int32{randTokens(rng, tc.T, 8192)}}
				opt := Options{Checkpointing: tc.ckpt}
				m.ForwardBackward(batch, opt) // warm the buffers
				b.ResetTimer()
				c0 := cpuSeconds()
				for i := 0; i < b.N; i++ {
					if _, _, err := m.ForwardBackward(batch, opt); err != nil {
						b.Fatal(err)
					}
				}
				s := b.Elapsed().Seconds() / float64(b.N)
				b.StopTimer()
				cpu := (cpuSeconds() - c0) / float64(b.N)
				peak = max(peak, peakFor(prec)) // the machine may be shared: keep the best rate seen
				tps := float64(tc.T) / s
				gflops := tps * m.FLOPsPerToken(tc.T) / 1e9
				b.ReportMetric(tps, "tokens/s")
				b.ReportMetric(gflops, "GFLOP/s")
				b.ReportMetric(gflops/peak, "MFU")
				b.ReportMetric(float64(tc.T)*m.FLOPsPerToken(tc.T)/1e9/cpu/(peak/float64(runtime.GOMAXPROCS(0))), "cpu-MFU")
				b.ReportMetric(peak, "peak-GFLOP/s")
				b.ReportMetric(cpu, "cpu-s/op")
			})
		}
	}
}

// BenchmarkPrefill times LogProbs (the forward pass of score) over T
// tokens of the tiny Llama in each precision.
func BenchmarkPrefill(b *testing.B) {
	for _, prec := range benchPrecisions() {
		for _, T := range []int{1024, 4096} {
			b.Run(fmt.Sprintf("T=%d/%v", T, prec), func(b *testing.B) {
				m, err := New(benchConfig(), 1)
				if err != nil {
					b.Fatal(err)
				}
				m.SetPrecision(prec)
				toks := randTokens(rand.New(rand.NewPCG(1, 1)), T, 8192)
				m.LogProbs(toks, nil)
				b.ResetTimer()
				c0 := cpuSeconds()
				for i := 0; i < b.N; i++ {
					if _, err := m.LogProbs(toks, nil); err != nil {
						b.Fatal(err)
					}
				}
				s := b.Elapsed().Seconds() / float64(b.N)
				b.StopTimer()
				b.ReportMetric(float64(T)/s, "tokens/s")
				b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s/op")
			})
		}
	}
}

// BenchmarkDecode times Generate: a 512-token prompt, then 64 new tokens
// one at a time with the key/value cache (no stop token), in each
// precision; tokens/s counts the new tokens.
func BenchmarkDecode(b *testing.B) {
	const prompt, gen = 512, 64
	for _, prec := range benchPrecisions() {
		b.Run(fmt.Sprintf("prompt=%d/new=%d/%v", prompt, gen, prec), func(b *testing.B) {
			m, err := New(benchConfig(), 1)
			if err != nil {
				b.Fatal(err)
			}
			m.SetPrecision(prec)
			toks := randTokens(rand.New(rand.NewPCG(1, 1)), prompt, 8192)
			never := func(int32) bool { return false }
			m.Generate(toks, 2, never)
			var decode time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := m.Generate(toks, 1, never); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := m.Generate(toks, gen+1, never); err != nil {
					b.Fatal(err)
				}
				// The second call minus the first: the gen decode steps.
				decode += time.Since(t1) - t1.Sub(t0)
			}
			b.ReportMetric(float64(gen*b.N)/decode.Seconds(), "tokens/s")
		})
	}
}

// TestLongStepMemory runs one checkpointed training step at
// LONGRECIPE_MEMORY_T tokens (e.g. 16384) of the benchmark model and logs
// the peak Go heap in use (runtime/metrics-free: MemStats.Sys, what the
// process obtained from the OS), failing above 3 GiB. Skipped unless the
// variable is set (it takes minutes). LONGRECIPE_MEMORY_PRECISION=bf16
// runs the step in bf16 (default fp32); run each in its own process to
// compare their peaks (scripts/model/memory.sh).
func TestLongStepMemory(t *testing.T) {
	s := os.Getenv("LONGRECIPE_MEMORY_T")
	if s == "" {
		t.Skip("set LONGRECIPE_MEMORY_T=16384 to run")
	}
	T, err := strconv.Atoi(s)
	if err != nil || T < 2 {
		t.Fatalf("LONGRECIPE_MEMORY_T=%q: want a length >= 2", s)
	}
	m, err := New(benchConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	prec := FP32
	if s := os.Getenv("LONGRECIPE_MEMORY_PRECISION"); s != "" {
		if prec, err = ParsePrecision(s); err != nil {
			t.Fatal(err)
		}
	}
	m.SetPrecision(prec)
	rng := rand.New(rand.NewPCG(2, 2))
	batch := &Batch{Tokens: [][]int32{randTokens(rng, T, 8192)}}
	t0 := time.Now()
	loss, n, err := m.ForwardBackward(batch, Options{Checkpointing: true})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(t0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gib := float64(ms.Sys) / (1 << 30)
	t.Logf("%v T=%d: loss %.4f over %d tokens in %v (%.0f tokens/s); MemStats.Sys %.2f GiB, HeapSys %.2f GiB, peak RSS %s, params %d",
		prec, T, loss/float64(n), n, el.Round(time.Millisecond), float64(T)/el.Seconds(), gib, float64(ms.HeapSys)/(1<<30), peakRSS(), m.NumParams())
	if gib > 3 {
		t.Errorf("peak memory %.2f GiB > 3 GiB", gib)
	}
}
