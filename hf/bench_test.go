package hf

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkDecode measures converting stored tensors to float32, next to a
// reference: copying the same number of float32 bytes (memmove), the
// floor any decoder pays for writing its output. Compare the ns/op of each
// dtype with "copy-reference" from the same run.
func BenchmarkDecode(b *testing.B) {
	const n = 1 << 20
	src := make([]float32, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	dst := make([]float32, n)
	b.Run("copy-reference", func(b *testing.B) {
		from := make([]float32, n)
		b.SetBytes(4 * n)
		for b.Loop() {
			copy(dst, from)
		}
	})
	for _, d := range []DType{F32, BF16, F16} {
		raw := make([]byte, n*d.Size())
		if err := encodeFloat32(raw, src, d); err != nil {
			b.Fatal(err)
		}
		b.Run(string(d), func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := decodeFloat32(dst, raw, d); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("encode-"+string(d), func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := encodeFloat32(raw, src, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
