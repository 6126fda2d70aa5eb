package model

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// TestStepMemoryBound guards the memory of a checkpointed training step
// (the fast version of TestLongStepMemory, in the test command): every
// byte allocated during the first ForwardBackward of a T = 1024 sequence
// (the workspace it keeps, anything transient) must stay within a bound
// linear in T: (L+13)·D + 6·FF floats a token and the chunked LM head,
// plus the kernels' packing buffers (about 4 MiB per goroutine, at least
// 12 MiB). It holds in both precisions; bf16 may exceed fp32 by no more
// than the packing buffers; and later steps reuse the workspace.
//
// The packing buffers live in free lists shared by all models
// (internal/freelist): a list grows when more goroutines than ever before
// pack at once, which depends on the scheduler, so a later step may add
// one buffer set (a few MiB) but never the workspace. The test therefore
// asks that every later step stay within the packing allowance and that
// at least one of four allocate (almost) nothing; a model that did not
// keep its workspace would allocate ≥ 4·T·(L+13)·D bytes every step. A
// collection is forced between the steps: the lists must survive it
// (a sync.Pool did not, a flaky failure on a busy CI machine).
func TestStepMemoryBound(t *testing.T) {
	cfg := &hf.Config{
		ModelType: "llama", VocabSize: 2048, HiddenSize: 128, IntermediateSize: 384,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 4096,
		HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: -1, EOSTokenID: -1,
	}
	const T = 1024
	D, FF, L := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers
	packing := uint64(max(12<<20, runtime.GOMAXPROCS(0)*4<<20))
	bound := uint64(4*T*((L+13)*D+6*FF)+4*ceChunkRows(cfg.VocabSize)*cfg.VocabSize) + packing
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
		first := step()
		allocated[p] = first
		var later []uint64
		for range 4 {
			runtime.GC()
			later = append(later, step())
		}
		t.Logf("%v: first step allocated %.1f MiB (bound %.1f MiB), later steps %v bytes", p, float64(first)/(1<<20), float64(bound)/(1<<20), later)
		if first > bound {
			t.Errorf("%v: a T=%d step allocated %d bytes, above the bound %d", p, T, first, bound)
		}
		if slices.Max(later) > packing {
			t.Errorf("%v: a later step allocated %d bytes, more than the packing buffers (%d)", p, slices.Max(later), packing)
		}
		if slices.Min(later) > 1<<20 {
			t.Errorf("%v: every later step allocated ≥ %d bytes: the workspace is not reused", p, slices.Min(later))
		}
	}
	if allocated[BF16] > allocated[FP32]+packing {
		t.Errorf("bf16 step allocated %d bytes, fp32 %d: bf16 must not need more memory", allocated[BF16], allocated[FP32])
	}
}
