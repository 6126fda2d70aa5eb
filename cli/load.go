package cli

import (
	"context"

	"github.com/longrecipe/longrecipe/model"
)

// loadModel loads the model folder dir for inference with the matrix
// multiplies of a --precision value (checked before loading); a pass over
// a long prompt stops within a layer of ctx's end (Ctrl-C).
func loadModel(ctx context.Context, dir, precision string) (*model.Model, error) {
	p, err := parsePrecision(precision)
	if err != nil {
		return nil, err
	}
	m, err := model.LoadPrecision(dir, p)
	if err != nil {
		return nil, err
	}
	m.SetStop(func() bool { return ctx.Err() != nil })
	return m, nil
}
