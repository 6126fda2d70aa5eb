package merge

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// BenchmarkMerge merges two 8 M-parameter checkpoints next to a reference
// that copies one input checkpoint file to a new file (read + write of the
// same bytes, no arithmetic). Compare each case's ns/op with the
// reference of the same run; MB/s counts the output bytes.
func BenchmarkMerge(b *testing.B) {
	for _, dt := range []hf.DType{hf.F32, hf.BF16} {
		dir := b.TempDir()
		const tensors, elems = 8, 1 << 20
		for m := range 2 {
			var srcs []hf.TensorSource
			for i := range tensors {
				srcs = append(srcs, hf.TensorSource{Name: "t" + string(rune('a'+i)), Shape: []int{elems}, DType: dt,
					Float32: func() ([]float32, error) {
						x := make([]float32, elems)
						for j := range x {
							x[j] = float32(m+i+j%13) / 3
						}
						return x, nil
					}})
			}
			md := filepath.Join(dir, "m"+string(rune('0'+m)))
			if err := hf.WriteCheckpoint(md, srcs, hf.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(md, "config.json"), []byte(tinyConfig), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		bytes := int64(tensors * elems * dt.Size())
		b.Run("copy-reference-"+string(dt), func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				in, err := os.Open(filepath.Join(dir, "m0", hf.SingleFileName))
				if err != nil {
					b.Fatal(err)
				}
				out, err := os.Create(filepath.Join(dir, "copy.safetensors"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(out, in); err != nil {
					b.Fatal(err)
				}
				in.Close()
				if err := out.Sync(); err != nil { // Merge syncs its files too
					b.Fatal(err)
				}
				out.Close()
			}
		})
		b.Run("merge-"+string(dt), func(b *testing.B) {
			b.SetBytes(bytes)
			for b.Loop() {
				if _, err := Merge(context.Background(), []string{filepath.Join(dir, "m0"), filepath.Join(dir, "m1")}, filepath.Join(dir, "out"), Options{Overwrite: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
