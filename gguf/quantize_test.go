package gguf

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestQuantizeError quantises Gaussian data (with a few outliers, as real
// weights have) and checks the relative RMS error of quantise →
// dequantise against each type's bound; F32 is exact.
func TestQuantizeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 256*64)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
		if i%997 == 0 {
			x[i] *= 8
		}
	}
	for _, tc := range []struct {
		typ   GGMLType
		bound float64 // relative RMS error
	}{
		{F32, 0}, {F16, 5e-4}, {BF16, 4e-3}, {Q8_0, 8e-3}, {Q6_K, 2.5e-2}, {Q4_K, 1.2e-1},
	} {
		buf := make([]byte, len(x)/tc.typ.BlockSize()*tc.typ.TypeSize())
		if err := Quantize(buf, x, tc.typ); err != nil {
			t.Fatal(err)
		}
		y := make([]float32, len(x))
		if err := Dequantize(y, buf, tc.typ); err != nil {
			t.Fatal(err)
		}
		var se, ss float64
		for i := range x {
			d := float64(y[i] - x[i])
			se += d * d
			ss += float64(x[i]) * float64(x[i])
		}
		rel := math.Sqrt(se / ss)
		t.Logf("%-4s relative RMS error %.3g (%.2f bits/value)", tc.typ, rel, 8*float64(tc.typ.TypeSize())/float64(tc.typ.BlockSize()))
		if rel > tc.bound || (tc.bound == 0 && rel != 0) {
			t.Errorf("%s: relative RMS error %.3g, want <= %.3g", tc.typ, rel, tc.bound)
		}
	}
}

// TestQuantizeRequantizeQ8_0 checks that Q8_0 blocks as ggml writes them
// (each block's largest magnitude coded as ±127) come back bit for bit
// from their dequantised values, as import → export needs.
func TestQuantizeRequantizeQ8_0(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 32*50)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	first := make([]byte, len(x)/32*34)
	if err := Quantize(first, x, Q8_0); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	Dequantize(y, first, Q8_0)
	second := make([]byte, len(first))
	Quantize(second, y, Q8_0)
	if string(first) != string(second) {
		t.Fatal("Q8_0 requantisation of dequantised blocks changed the bytes")
	}
}

func TestQuantizeRefusesBadSizes(t *testing.T) {
	for _, tc := range []struct {
		typ  GGMLType
		n    int
		want string
	}{
		{Q4_K, 100, "whole blocks"}, {Q8_0, 33, "whole blocks"}, {Q5_0, 32, "cannot be written"},
	} {
		err := Quantize(make([]byte, 1000), make([]float32, tc.n), tc.typ)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s ×%d: got %v, want %q", tc.typ, tc.n, err, tc.want)
		}
	}
}
