package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/longrecipe/longrecipe/hf"
)

// Model is what the planner needs to know of a model.
type Model struct {
	Dir    string
	Config *hf.Config
	// Params is the parameter count; ParamSource says where it came from
	// ("safetensors headers" or "config.json sizes").
	Params      int64
	ParamSource string
}

// Param sources.
const (
	FromHeaders = "safetensors headers"
	FromConfig  = "config.json sizes"
)

// LoadModel reads dir/config.json and, when the folder has weights
// (model.safetensors or its sharded index), counts the parameters from the
// safetensors headers; a folder with only config.json is counted from the
// config's sizes (hf.Config.ParameterCount). No tensor data is read.
func LoadModel(dir string) (Model, error) {
	cfg, err := hf.LoadConfig(filepath.Join(dir, hf.ConfigFileName))
	if err != nil {
		return Model{}, err
	}
	m := Model{Dir: dir, Config: cfg, Params: cfg.ParameterCount(), ParamSource: FromConfig}
	has, err := hasWeights(dir)
	if err != nil || !has {
		return m, err
	}
	ck, err := hf.OpenCheckpoint(dir)
	if err != nil {
		return Model{}, err
	}
	defer ck.Close()
	var n int64
	for _, name := range ck.Names() {
		info, _ := ck.Info(name)
		n += info.NumElements()
	}
	m.Params, m.ParamSource = n, FromHeaders
	return m, nil
}

// hasWeights reports whether dir holds model.safetensors or its index.
func hasWeights(dir string) (bool, error) {
	for _, name := range []string{hf.SingleFileName, hf.IndexFileName} {
		_, err := os.Stat(filepath.Join(dir, name))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("model folder %s: %w", dir, err)
		}
	}
	return false, nil
}

// ConfigModel wraps a config that has no folder (tests, docs).
func ConfigModel(cfg *hf.Config) Model {
	return Model{Config: cfg, Params: cfg.ParameterCount(), ParamSource: FromConfig}
}

// layerParams is the parameter count of one decoder layer.
func layerParams(cfg *hf.Config) int64 {
	one, zero := cfg.Clone(), cfg.Clone()
	one.NumHiddenLayers, zero.NumHiddenLayers = 1, 0
	return one.ParameterCount() - zero.ParameterCount()
}

// rootParams is the parameter count outside the decoder layers: token
// embeddings, final norm and the LM head unless tied.
func rootParams(cfg *hf.Config) int64 {
	zero := cfg.Clone()
	zero.NumHiddenLayers = 0
	return zero.ParameterCount()
}

// matmulParams is the parameter count that costs 2 FLOPs per token forward:
// all but the input embedding table, which is a lookup (unless tied, then
// the LM head uses it).
func matmulParams(m Model) int64 {
	c := m.Config
	if c.TieWordEmbeddings {
		return m.Params
	}
	return m.Params - int64(c.VocabSize)*int64(c.HiddenSize)
}
