package train

import (
	"fmt"

	"github.com/longrecipe/longrecipe/model"
)

// Llama adapts a *model.Model to Model, running every forward/backward
// pass with Opt (activation checkpointing, threads). Opt.GradScale must be
// 0 or 1: the loop divides by the token count itself.
type Llama struct {
	M   *model.Model
	Opt model.Options
}

// Params returns the model's trainable tensors.
func (l Llama) Params() []*model.Param { return l.M.Params() }

// ForwardBackward runs one training pass over b.
func (l Llama) ForwardBackward(b *model.Batch) (float64, int, error) {
	if l.Opt.GradScale != 0 && l.Opt.GradScale != 1 {
		return 0, 0, fmt.Errorf("train: model options GradScale %v: the loop scales gradients itself (want 0 or 1)", l.Opt.GradScale)
	}
	return l.M.ForwardBackward(b, l.Opt)
}
