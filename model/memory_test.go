package model

import (
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// TestStepMemoryBound guards the memory of a checkpointed training step
// (the fast version of TestLongStepMemory, in the test command): every
// byte allocated during the first ForwardBackward of a T = 1024 sequence
// (the workspace it keeps, anything transient, the kernels' packing
// buffers) must stay within a bound linear in T: (L+13)·D + 6·FF floats a
// token, the chunked LM head, and 12 MiB for the packing buffers (about
// 4 MiB per goroutine). It holds in both precisions; bf16 may exceed
// fp32 by no more than those buffers; a second step allocates (almost)
// nothing. The collector is off while it runs: a collection empties the
// kernels' sync.Pool of packing buffers, and refilling it would be counted
// as the model failing to reuse its workspace (a flaky failure on a busy
// machine).
func TestStepMemoryBound(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	cfg := &hf.Config{
		ModelType: "llama", VocabSize: 2048, HiddenSize: 128, IntermediateSize: 384,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 4096,
		HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: -1, EOSTokenID: -1,
	}
	const T = 1024
	D, FF, L := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers
	bound := uint64(4*T*((L+13)*D+6*FF) + 4*ceChunkRows(cfg.VocabSize)*cfg.VocabSize + 12<<20)
	batch := &Batch{Tokens: [][]int32{randTokens(rand.New(rand.NewPCG(4, 4)), T, cfg.VocabSize)}}
	allocated := map[Precision]uint64{}
	for _, p := range []Precision{FP32, BF16} {
		m, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		m.SetPrecision(p)
		step := func() uint64 {
			var a, b runtime.MemStats
			runtime.ReadMemStats(&a)
			if _, _, err := m.ForwardBackward(batch, Options{Checkpointing: true}); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&b)
			return b.TotalAlloc - a.TotalAlloc
		}
		first, second := step(), step()
		allocated[p] = first
		t.Logf("%v: first step allocated %.1f MiB (bound %.1f MiB), second %.2f MiB", p, float64(first)/(1<<20), float64(bound)/(1<<20), float64(second)/(1<<20))
		if first > bound {
			t.Errorf("%v: a T=%d step allocated %d bytes, above the bound %d", p, T, first, bound)
		}
		if second > 1<<20 {
			t.Errorf("%v: a second step allocated %d bytes: the workspace is not reused", p, second)
		}
	}
	// The bf16 kernel keeps its own packed blocks (a few MiB per goroutine).
	if allocated[BF16] > allocated[FP32]+12<<20 {
		t.Errorf("bf16 step allocated %d bytes, fp32 %d: bf16 must not need more memory", allocated[BF16], allocated[FP32])
	}
}
