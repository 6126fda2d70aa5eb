package train

import (
	"fmt"

	"github.com/longrecipe/longrecipe/hf"
)

// The checkpoint tensors (fp32 master weights, AdamW moments) are stored as
// safetensors files of F32 tensors, written and read with package hf.

// tensor is one named fp32 tensor to write.
type tensor struct {
	name  string
	shape []int
	data  []float32
}

// writeF32Safetensors writes tensors, in order, to path atomically.
func writeF32Safetensors(path string, tensors []tensor) error {
	ts := make([]hf.Tensor, len(tensors))
	for i, t := range tensors {
		ts[i] = hf.Tensor{Name: t.name, Shape: t.shape, DType: hf.F32, F32: t.data}
	}
	return hf.WriteSafetensors(path, ts, nil)
}

// readF32 reads the F32 tensor name of f, whose shape must be shape, into
// dst.
func readF32(f *hf.File, name string, shape []int, dst []float32) error {
	info, ok := f.Info(name)
	if !ok {
		return fmt.Errorf("%s: no tensor %s", f.Path(), name)
	}
	if info.DType != hf.F32 {
		return fmt.Errorf("%s: tensor %s has dtype %s, want F32", f.Path(), name, info.DType)
	}
	if !equalShape(info.Shape, shape) {
		return fmt.Errorf("%s: tensor %s has shape %v, the model's is %v", f.Path(), name, info.Shape, shape)
	}
	return f.Float32Into(name, dst)
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
