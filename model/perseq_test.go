package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// perSeqBatch is five sequences of different lengths, with position ids
// (one with a gap) and a loss mask.
func perSeqBatch(V int) *Batch {
	rng := rand.New(rand.NewPCG(7, 8))
	b := &Batch{}
	for i, n := range []int{40, 17, 33, 50, 8} {
		b.Tokens = append(b.Tokens, randTokens(rng, n, V))
		pos := make([]int32, n)
		for t := range pos {
			pos[t] = int32(t)
			if i == 2 && t >= 10 {
				pos[t] += 7
			}
		}
		b.Positions = append(b.Positions, pos)
		var mask []bool
		if i == 3 {
			mask = make([]bool, n)
			for t := range mask {
				mask[t] = t%3 != 0
			}
		}
		b.LossMask = append(b.LossMask, mask)
	}
	return b
}

// gradsOf runs b through a fresh model with opt and returns the loss sum
// and every gradient.
func gradsOf(t *testing.T, p Precision, b *Batch, opt Options) (float64, [][]float32) {
	t.Helper()
	cfg := tinyConfig()
	cfg.HiddenSize, cfg.IntermediateSize = 32, 48
	m, err := New(cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	m.SetPrecision(p)
	m.ZeroGrad()
	loss, _, err := m.ForwardBackward(b, opt)
	if err != nil {
		t.Fatal(err)
	}
	var g [][]float32
	for _, q := range m.Params() {
		g = append(g, append([]float32(nil), q.G...))
	}
	return loss, g
}

func sameBits(a, b [][]float32) bool {
	for i := range a {
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				return false
			}
		}
	}
	return true
}

// TestPerSequenceWorkers: a small BF16 model trains per sequence, and the
// batch's loss and gradients are the same bit for bit on 1, 2, 3 or 8
// workers, equal to each sequence's gradient from zero added in order,
// and within bfloat16 accuracy of FP32's.
func TestPerSequenceWorkers(t *testing.T) {
	b := perSeqBatch(tinyConfig().VocabSize)
	wantLoss, want := gradsOf(t, BF16, b, Options{Threads: 1})
	for _, threads := range []int{2, 3, 8} {
		for _, ckpt := range []bool{false, true} {
			loss, g := gradsOf(t, BF16, b, Options{Threads: threads, Checkpointing: ckpt})
			if loss != wantLoss || !sameBits(g, want) {
				t.Errorf("%d workers, checkpointing %v: loss %v (1 worker: %v), gradients equal: %v", threads, ckpt, loss, wantLoss, sameBits(g, want))
			}
		}
	}
	// The reference: each sequence alone from zero, added in order.
	var sum [][]float32
	for i := range b.Tokens {
		one := &Batch{Tokens: b.Tokens[i : i+1], Positions: b.Positions[i : i+1], LossMask: b.LossMask[i : i+1]}
		_, g := gradsOf(t, BF16, one, Options{Threads: 1})
		if sum == nil {
			sum = g
			continue
		}
		for j := range sum {
			for k := range sum[j] {
				sum[j][k] += g[j][k]
			}
		}
	}
	if !sameBits(sum, want) {
		t.Error("batch gradients differ from the sequences' gradients added in order")
	}
	_, g32 := gradsOf(t, FP32, b, Options{})
	for j := range g32 {
		var d, n float64
		for k := range g32[j] {
			d += math.Pow(float64(want[j][k]-g32[j][k]), 2)
			n += math.Pow(float64(g32[j][k]), 2)
		}
		if rel := math.Sqrt(d / (n + 1e-30)); rel > 0.05 {
			t.Errorf("parameter %d: BF16 gradient %.3g relative RMS from FP32's", j, rel)
		}
	}
}

// TestPerSequenceStop: a stop during a per-sequence step ends it with
// ErrStopped, every worker having finished.
func TestPerSequenceStop(t *testing.T) {
	b := perSeqBatch(tinyConfig().VocabSize)
	for _, after := range []int64{0, 3, 9} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			cfg := tinyConfig()
			m, err := New(cfg, 4)
			if err != nil {
				t.Fatal(err)
			}
			m.SetPrecision(BF16)
			var calls atomic.Int64
			stop := func() bool { return calls.Add(1) > after }
			if _, _, err := m.ForwardBackward(b, Options{Threads: 3, Stop: stop}); !errors.Is(err, ErrStopped) {
				t.Fatalf("err = %v, want ErrStopped", err)
			}
			// The forks are clean again: a full step equals a fresh model's.
			m.ZeroGrad()
			if _, _, err := m.ForwardBackward(b, Options{Threads: 2}); err != nil {
				t.Fatal(err)
			}
			fresh, err := New(cfg, 4)
			if err != nil {
				t.Fatal(err)
			}
			fresh.SetPrecision(BF16)
			if _, _, err := fresh.ForwardBackward(b, Options{Threads: 1}); err != nil {
				t.Fatal(err)
			}
			for i, p := range m.Params() {
				for k := range p.G {
					if math.Float32bits(p.G[k]) != math.Float32bits(fresh.Params()[i].G[k]) {
						t.Fatalf("after a stopped step, %s differs from a fresh model's", p.Name)
					}
				}
			}
		})
	}
}
