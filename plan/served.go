package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Served is the context window a serving engine derives from a model
// folder, and what keeps it from the target.
type Served struct {
	// Window is the max_model_len vLLM derives; Key the setting it came from.
	Window   int      `json:"window"`
	Key      string   `json:"from"`
	Problems []string `json:"problems,omitempty"`
}

// vllmLengthKeys are the config.json keys vLLM reads a model's length from;
// it takes the least of those present (vllm/config/model.py,
// _get_and_verify_max_len).
var vllmLengthKeys = []string{"max_position_embeddings", "n_positions", "max_seq_len", "seq_length",
	"model_max_length", "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len"}

// CheckServed derives the window vLLM serves the folder dir at, by vLLM's
// rule: the least of config.json's length keys and tokenizer_config.json's
// model_max_length, times the RoPE scaling factor unless the scaling type is
// llama3, longrope or su (yarn: original_max_position_embeddings × factor).
// transformers reads the same config.json: max_position_embeddings and
// rope_theta (or rope_parameters) — the Go side writes both (hf.Config.SetRope).
// Problems lists every reason the window is not target.
func CheckServed(dir string, target int) (Served, error) {
	cfg, err := readJSON(filepath.Join(dir, "config.json"), true)
	if err != nil {
		return Served{}, err
	}
	tok, err := readJSON(filepath.Join(dir, "tokenizer_config.json"), false)
	if err != nil {
		return Served{}, err
	}
	s := Served{Window: math.MaxInt}
	for _, k := range vllmLengthKeys {
		if v, ok := number(cfg[k]); ok && v < float64(s.Window) {
			s.Window, s.Key = int(v), "config.json "+k
		}
	}
	if v, ok := number(tok["model_max_length"]); ok && v < float64(s.Window) {
		s.Window, s.Key = int(v), "tokenizer_config.json model_max_length"
	}
	if s.Key == "" {
		return s, fmt.Errorf("%s: config.json has none of %v (vLLM would assume 2048)", dir, vllmLengthKeys)
	}
	scaleWindow(&s, cfg)
	if s.Window != target {
		s.Problems = append(s.Problems, fmt.Sprintf("vLLM derives a window of %d tokens (%s), not the target %d", s.Window, s.Key, target))
	}
	return s, nil
}

// scaleWindow applies vLLM's RoPE-scaling rule to s.
func scaleWindow(s *Served, cfg map[string]any) {
	rope, _ := cfg["rope_scaling"].(map[string]any)
	if rope == nil {
		rope, _ = cfg["rope_parameters"].(map[string]any)
	}
	if rope == nil {
		return
	}
	typ, _ := rope["rope_type"].(string)
	if typ == "" {
		typ, _ = rope["type"].(string)
	}
	factor, ok := number(rope["factor"])
	if !ok || typ == "llama3" || typ == "longrope" || typ == "su" {
		return
	}
	if typ == "yarn" {
		if orig, ok := number(rope["original_max_position_embeddings"]); ok {
			s.Window, s.Key = int(orig), "rope_scaling.original_max_position_embeddings"
		}
	}
	s.Window = int(float64(s.Window) * factor)
	s.Key += fmt.Sprintf(" × %s rope factor %g", typ, factor)
}

// readJSON reads a JSON object; a missing optional file is an empty one.
func readJSON(path string, required bool) (map[string]any, error) {
	data, err := paths.ReadRegular(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("served config: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: bad JSON: %w", path, err)
	}
	return m, nil
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}
