package cli

import (
	"context"

	"github.com/longrecipe/longrecipe/model"
)

// loadModel loads the model folder dir for inference; a pass over a long
// prompt stops within a layer of ctx's end (Ctrl-C).
func loadModel(ctx context.Context, dir string) (*model.Model, error) {
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	m.SetStop(func() bool { return ctx.Err() != nil })
	return m, nil
}
