package hf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
)

// RopeScaling is config.json's "rope_scaling" object.
type RopeScaling struct {
	// Type is "linear", "dynamic", "yarn" or "llama3" (config.json's
	// "rope_type", or the older "type").
	Type string `json:"rope_type"`
	// Factor is the context extension factor s (> 0).
	Factor float64 `json:"factor"`
	// OriginalMaxPositionEmbeddings is the pretrained window (llama3, yarn,
	// dynamic); 0 when absent.
	OriginalMaxPositionEmbeddings int `json:"original_max_position_embeddings,omitempty"`
	// LowFreqFactor and HighFreqFactor parameterise llama3 scaling.
	LowFreqFactor  float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor float64 `json:"high_freq_factor,omitempty"`
	// BetaFast and BetaSlow parameterise YaRN (defaults 32 and 1).
	BetaFast float64 `json:"beta_fast,omitempty"`
	BetaSlow float64 `json:"beta_slow,omitempty"`
	// AttentionFactor is YaRN's attention temperature; 0 means the default
	// 0.1·ln(Factor)+1.
	AttentionFactor float64 `json:"attention_factor,omitempty"`
}

// Config is a Llama-family config.json (model_type llama, mistral, qwen2).
type Config struct {
	ModelType             string
	VocabSize             int
	HiddenSize            int
	IntermediateSize      int
	NumHiddenLayers       int
	NumAttentionHeads     int
	NumKeyValueHeads      int // defaults to NumAttentionHeads
	HeadDim               int // defaults to HiddenSize / NumAttentionHeads
	RMSNormEps            float64
	RopeTheta             float64
	RopeScaling           *RopeScaling // nil when absent
	MaxPositionEmbeddings int
	TieWordEmbeddings     bool
	AttentionBias         bool // QKV projections have biases (qwen2: always)
	SlidingWindow         int  // 0: full causal attention
	HiddenAct             string
	InitializerRange      float64
	BOSTokenID            int // -1 when absent
	EOSTokenID            int // -1 when absent
	TorchDtype            string

	// EOSTokenIDs lists every end-of-sequence id (config.json's
	// eos_token_id may be a list, as in Llama-3-Instruct); EOSTokenID is
	// its first element. Empty when absent.
	EOSTokenIDs []int
	// MLPBias reports llama's "mlp_bias": the MLP projections have biases.
	MLPBias bool
	// MaxWindowLayers is qwen2's "max_window_layers": when SlidingWindow is
	// set, layers with index >= MaxWindowLayers use the sliding window and
	// the layers below it use full attention. For mistral it is 0 (every
	// layer slides).
	MaxWindowLayers int

	// Raw holds every field as read, so that Save writes back the fields
	// this package does not model.
	Raw map[string]json.RawMessage
}

// rawConfig mirrors the config.json fields this package reads. Pointers
// distinguish absent fields (nil) from zero values.
type rawConfig struct {
	ModelType             *string         `json:"model_type"`
	VocabSize             *int            `json:"vocab_size"`
	HiddenSize            *int            `json:"hidden_size"`
	IntermediateSize      *int            `json:"intermediate_size"`
	NumHiddenLayers       *int            `json:"num_hidden_layers"`
	NumAttentionHeads     *int            `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	RopeParameters        json.RawMessage `json:"rope_parameters"`
	MaxPositionEmbeddings *int            `json:"max_position_embeddings"`
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	AttentionBias         *bool           `json:"attention_bias"`
	MLPBias               *bool           `json:"mlp_bias"`
	SlidingWindow         *int            `json:"sliding_window"`
	UseSlidingWindow      *bool           `json:"use_sliding_window"`
	MaxWindowLayers       *int            `json:"max_window_layers"`
	HiddenAct             *string         `json:"hidden_act"`
	InitializerRange      *float64        `json:"initializer_range"`
	BOSTokenID            *int            `json:"bos_token_id"`
	EOSTokenID            json.RawMessage `json:"eos_token_id"`
	TorchDtype            *string         `json:"torch_dtype"`
	Dtype                 *string         `json:"dtype"`
}

// defaults holds what transformers' configuration classes use for a field
// absent from config.json (LlamaConfig, MistralConfig, Qwen2Config).
type defaults struct {
	maxPos        int
	slidingWindow int // mistral's default window; qwen2's when enabled
	bos, eos      int
	rmsEps        float64
	ropeTheta     float64
	attnBias      bool
}

var modelDefaults = map[string]defaults{
	"llama":   {maxPos: 2048, bos: 1, eos: 2, rmsEps: 1e-6, ropeTheta: 10000},
	"mistral": {maxPos: 4096 * 32, slidingWindow: 4096, bos: 1, eos: 2, rmsEps: 1e-6, ropeTheta: 10000},
	"qwen2":   {maxPos: 32768, slidingWindow: 4096, bos: -1, eos: -1, rmsEps: 1e-6, ropeTheta: 10000, attnBias: true},
}

// ParseConfig parses the content of a config.json; name (usually the file
// path) is used in error messages. Absent optional fields get the defaults
// transformers applies for the model type (num_key_value_heads = heads,
// head_dim = hidden/heads, rope_theta 10000, rms_norm_eps 1e-6,
// hidden_act silu, max_position_embeddings 2048/131072/32768 for
// llama/mistral/qwen2). The sizes vocab_size, hidden_size,
// intermediate_size, num_hidden_layers and num_attention_heads are
// required: transformers would silently default them to a 7B shape, which
// for a real checkpoint only hides a broken file. The result is validated.
func ParseConfig(data []byte, name string) (*Config, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%s: config is not a JSON object", name)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: bad JSON: %w", name, err)
	}
	c, err := configFromRaw(raw, name)
	if err != nil {
		return nil, err
	}
	if err := c.validate(name); err != nil {
		return nil, err
	}
	return c, nil
}

// configFromRaw decodes the modelled fields of raw and applies defaults.
func configFromRaw(raw map[string]json.RawMessage, name string) (*Config, error) {
	var r rawConfig
	for key, msg := range raw {
		if err := decodeField(&r, key, msg); err != nil {
			return nil, fmt.Errorf("%s: field %q: %w", name, key, err)
		}
	}
	if r.ModelType == nil {
		return nil, fmt.Errorf("%s: missing model_type (want llama, mistral or qwen2)", name)
	}
	def, ok := modelDefaults[*r.ModelType]
	if !ok {
		return nil, fmt.Errorf("%s: unsupported model_type %q (want llama, mistral or qwen2)", name, *r.ModelType)
	}
	c := &Config{ModelType: *r.ModelType, Raw: raw}
	if err := c.setShapes(&r, name); err != nil {
		return nil, err
	}
	c.setArchitecture(&r, raw, def)
	if err := c.setTokens(&r, raw, def, name); err != nil {
		return nil, err
	}
	if err := c.setRope(&r, name); err != nil {
		return nil, err
	}
	return c, nil
}

// setShapes sets the model's sizes: the required fields, the key/value
// heads and the head dimension.
func (c *Config) setShapes(r *rawConfig, name string) error {
	required := []struct {
		key string
		src *int
		dst *int
	}{
		{"vocab_size", r.VocabSize, &c.VocabSize},
		{"hidden_size", r.HiddenSize, &c.HiddenSize},
		{"intermediate_size", r.IntermediateSize, &c.IntermediateSize},
		{"num_hidden_layers", r.NumHiddenLayers, &c.NumHiddenLayers},
		{"num_attention_heads", r.NumAttentionHeads, &c.NumAttentionHeads},
	}
	for _, f := range required {
		if f.src == nil {
			return fmt.Errorf("%s: missing required field %s", name, f.key)
		}
		*f.dst = *f.src
	}
	c.NumKeyValueHeads = intOr(r.NumKeyValueHeads, c.NumAttentionHeads)
	if r.HeadDim != nil {
		c.HeadDim = *r.HeadDim
	} else {
		if c.NumAttentionHeads <= 0 {
			return fmt.Errorf("%s: num_attention_heads = %d, want > 0", name, c.NumAttentionHeads)
		}
		if c.HiddenSize%c.NumAttentionHeads != 0 {
			return fmt.Errorf("%s: hidden_size %d is not divisible by num_attention_heads %d (and head_dim is not given)", name, c.HiddenSize, c.NumAttentionHeads)
		}
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	return nil
}

// setArchitecture sets the norm, RoPE base, window, activation, biases
// and sliding window, with the model type's defaults.
func (c *Config) setArchitecture(r *rawConfig, raw map[string]json.RawMessage, def defaults) {
	c.RMSNormEps = floatOr(r.RMSNormEps, def.rmsEps)
	c.RopeTheta = floatOr(r.RopeTheta, def.ropeTheta)
	c.MaxPositionEmbeddings = intOr(r.MaxPositionEmbeddings, def.maxPos)
	c.TieWordEmbeddings = boolOr(r.TieWordEmbeddings, false)
	c.HiddenAct = "silu"
	if r.HiddenAct != nil {
		c.HiddenAct = *r.HiddenAct
	}
	c.InitializerRange = floatOr(r.InitializerRange, 0.02)
	c.MLPBias = boolOr(r.MLPBias, false)
	switch c.ModelType {
	case "qwen2":
		// Qwen2 always has q/k/v biases; its config has no attention_bias.
		c.AttentionBias = true
		if boolOr(r.UseSlidingWindow, false) {
			c.SlidingWindow = intOr(r.SlidingWindow, def.slidingWindow)
			if _, present := raw["sliding_window"]; present && r.SlidingWindow == nil {
				c.SlidingWindow = 0 // explicit null: no window
			}
			c.MaxWindowLayers = intOr(r.MaxWindowLayers, 28)
		}
	case "mistral":
		c.AttentionBias = false
		if _, present := raw["sliding_window"]; present {
			// null decodes to a nil pointer: no sliding window.
			c.SlidingWindow = intOr(r.SlidingWindow, 0)
		} else {
			c.SlidingWindow = def.slidingWindow
		}
	default:
		c.AttentionBias = boolOr(r.AttentionBias, false)
	}
}

// setTokens sets the BOS and EOS token ids (an explicit null is -1 or
// no EOS) and the dtype.
func (c *Config) setTokens(r *rawConfig, raw map[string]json.RawMessage, def defaults, name string) error {
	c.BOSTokenID = intOr(r.BOSTokenID, def.bos)
	if _, present := raw["bos_token_id"]; present && r.BOSTokenID == nil {
		c.BOSTokenID = -1 // explicit null
	}
	c.EOSTokenID = def.eos
	if def.eos >= 0 {
		c.EOSTokenIDs = []int{def.eos}
	}
	if msg, present := raw["eos_token_id"]; present {
		ids, err := parseTokenIDs(msg)
		if err != nil {
			return fmt.Errorf("%s: field \"eos_token_id\": %w", name, err)
		}
		c.EOSTokenIDs = ids
		c.EOSTokenID = -1
		if len(ids) > 0 {
			c.EOSTokenID = ids[0]
		}
	}
	switch {
	case r.TorchDtype != nil:
		c.TorchDtype = *r.TorchDtype
	case r.Dtype != nil:
		c.TorchDtype = *r.Dtype
	}
	return nil
}

// setRope sets the RoPE scaling, from rope_scaling or transformers v5's
// rope_parameters (which may also hold rope_theta).
func (c *Config) setRope(r *rawConfig, name string) error {
	scalingMsg := r.RopeScaling
	if isNull(scalingMsg) && !isNull(r.RopeParameters) {
		// transformers v5 moved rope_theta and the scaling into
		// "rope_parameters".
		var p struct {
			RopeTheta *float64 `json:"rope_theta"`
		}
		if err := json.Unmarshal(r.RopeParameters, &p); err != nil {
			return fmt.Errorf("%s: field \"rope_parameters\": %w", name, err)
		}
		if p.RopeTheta != nil && r.RopeTheta == nil {
			c.RopeTheta = *p.RopeTheta
		}
		scalingMsg = r.RopeParameters
	}
	if !isNull(scalingMsg) {
		s, err := parseRopeScaling(scalingMsg)
		if err != nil {
			return fmt.Errorf("%s: rope_scaling: %w", name, err)
		}
		c.RopeScaling = s
	}
	return nil
}

// decodeField decodes one config.json field into the matching rawConfig
// member; unknown keys are ignored (they stay in Raw).
func decodeField(r *rawConfig, key string, msg json.RawMessage) error {
	var dst any
	switch key {
	case "model_type":
		dst = &r.ModelType
	case "vocab_size":
		dst = &r.VocabSize
	case "hidden_size":
		dst = &r.HiddenSize
	case "intermediate_size":
		dst = &r.IntermediateSize
	case "num_hidden_layers":
		dst = &r.NumHiddenLayers
	case "num_attention_heads":
		dst = &r.NumAttentionHeads
	case "num_key_value_heads":
		dst = &r.NumKeyValueHeads
	case "head_dim":
		dst = &r.HeadDim
	case "rms_norm_eps":
		dst = &r.RMSNormEps
	case "rope_theta":
		dst = &r.RopeTheta
	case "rope_scaling":
		r.RopeScaling = msg
		return nil
	case "rope_parameters":
		r.RopeParameters = msg
		return nil
	case "max_position_embeddings":
		dst = &r.MaxPositionEmbeddings
	case "tie_word_embeddings":
		dst = &r.TieWordEmbeddings
	case "attention_bias":
		dst = &r.AttentionBias
	case "mlp_bias":
		dst = &r.MLPBias
	case "sliding_window":
		dst = &r.SlidingWindow
	case "use_sliding_window":
		dst = &r.UseSlidingWindow
	case "max_window_layers":
		dst = &r.MaxWindowLayers
	case "hidden_act":
		dst = &r.HiddenAct
	case "initializer_range":
		dst = &r.InitializerRange
	case "bos_token_id":
		dst = &r.BOSTokenID
	case "eos_token_id":
		r.EOSTokenID = msg
		return nil
	case "torch_dtype":
		dst = &r.TorchDtype
	case "dtype":
		dst = &r.Dtype
	default:
		return nil
	}
	if err := json.Unmarshal(msg, dst); err != nil {
		// json reports e.g. "cannot unmarshal string into Go value of type int".
		return fmt.Errorf("bad value %s: %w", truncate(string(msg), 40), err)
	}
	return nil
}

func parseTokenIDs(msg json.RawMessage) ([]int, error) {
	if isNull(msg) {
		return nil, nil
	}
	var one int
	if err := json.Unmarshal(msg, &one); err == nil {
		return []int{one}, nil
	}
	var many []int
	if err := json.Unmarshal(msg, &many); err != nil {
		return nil, fmt.Errorf("want an integer or a list of integers, got %s", truncate(string(msg), 40))
	}
	return many, nil
}

// ropeScalingJSON is the union of the rope_scaling fields this package reads.
type ropeScalingJSON struct {
	RopeType                      *string  `json:"rope_type"`
	Type                          *string  `json:"type"`
	Factor                        *float64 `json:"factor"`
	OriginalMaxPositionEmbeddings *int     `json:"original_max_position_embeddings"`
	LowFreqFactor                 *float64 `json:"low_freq_factor"`
	HighFreqFactor                *float64 `json:"high_freq_factor"`
	BetaFast                      *float64 `json:"beta_fast"`
	BetaSlow                      *float64 `json:"beta_slow"`
	AttentionFactor               *float64 `json:"attention_factor"`
}

// parseRopeScaling decodes a rope_scaling object. It returns nil for
// rope_type "default" (plain RoPE) and an error for unknown types or
// missing required fields (as transformers' rope_config_validation).
func parseRopeScaling(msg json.RawMessage) (*RopeScaling, error) {
	var j ropeScalingJSON
	if err := json.Unmarshal(msg, &j); err != nil {
		return nil, fmt.Errorf("bad value %s: %w", truncate(string(msg), 60), err)
	}
	typ := ""
	switch {
	case j.RopeType != nil:
		typ = *j.RopeType
	case j.Type != nil:
		typ = *j.Type
	default:
		return nil, fmt.Errorf("missing rope_type (or type)")
	}
	if typ == "default" {
		return nil, nil
	}
	s := &RopeScaling{Type: typ}
	need := func(key string, v *float64) (float64, error) {
		if v == nil {
			return 0, fmt.Errorf("rope_type %q requires %q", typ, key)
		}
		return *v, nil
	}
	var err error
	switch typ {
	case "linear", "dynamic", "yarn", "llama3":
		if s.Factor, err = need("factor", j.Factor); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported rope_type %q (want default, linear, dynamic, yarn or llama3)", typ)
	}
	s.OriginalMaxPositionEmbeddings = intOr(j.OriginalMaxPositionEmbeddings, 0)
	switch typ {
	case "yarn":
		s.BetaFast = floatOr(j.BetaFast, 32)
		s.BetaSlow = floatOr(j.BetaSlow, 1)
		s.AttentionFactor = floatOr(j.AttentionFactor, 0)
	case "llama3":
		if s.LowFreqFactor, err = need("low_freq_factor", j.LowFreqFactor); err != nil {
			return nil, err
		}
		if s.HighFreqFactor, err = need("high_freq_factor", j.HighFreqFactor); err != nil {
			return nil, err
		}
		if j.OriginalMaxPositionEmbeddings == nil {
			return nil, fmt.Errorf("rope_type %q requires %q", typ, "original_max_position_embeddings")
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks the values of a rope scaling: a known type, a finite
// factor > 0 (>= 1 for llama3 and yarn), llama3's low_freq_factor <
// high_freq_factor, positive windows.
func (s *RopeScaling) Validate() error {
	if s == nil {
		return nil
	}
	switch s.Type {
	case "linear", "dynamic", "yarn", "llama3":
	default:
		return fmt.Errorf("unsupported rope_type %q (want linear, dynamic, yarn or llama3)", s.Type)
	}
	if !(s.Factor > 0) || math.IsInf(s.Factor, 0) {
		return fmt.Errorf("rope_type %q: factor %v, want a finite number > 0", s.Type, s.Factor)
	}
	if (s.Type == "llama3" || s.Type == "yarn") && s.Factor < 1 {
		return fmt.Errorf("rope_type %q: factor %v, want >= 1", s.Type, s.Factor)
	}
	if s.OriginalMaxPositionEmbeddings < 0 {
		return fmt.Errorf("rope_type %q: original_max_position_embeddings %d, want > 0", s.Type, s.OriginalMaxPositionEmbeddings)
	}
	switch s.Type {
	case "llama3":
		if s.OriginalMaxPositionEmbeddings <= 0 {
			return fmt.Errorf("rope_type llama3: original_max_position_embeddings %d, want > 0", s.OriginalMaxPositionEmbeddings)
		}
		if !(s.LowFreqFactor > 0) || !(s.HighFreqFactor > s.LowFreqFactor) || math.IsInf(s.HighFreqFactor, 0) {
			return fmt.Errorf("rope_type llama3: want 0 < low_freq_factor < high_freq_factor, got %v and %v", s.LowFreqFactor, s.HighFreqFactor)
		}
	case "yarn":
		if !(s.BetaFast > 0) || !(s.BetaSlow > 0) || math.IsInf(s.BetaFast, 0) || math.IsInf(s.BetaSlow, 0) {
			return fmt.Errorf("rope_type yarn: beta_fast %v and beta_slow %v, want finite > 0", s.BetaFast, s.BetaSlow)
		}
		if s.AttentionFactor < 0 || math.IsNaN(s.AttentionFactor) || math.IsInf(s.AttentionFactor, 0) {
			return fmt.Errorf("rope_type yarn: attention_factor %v, want finite >= 0", s.AttentionFactor)
		}
	}
	return nil
}

// Validate checks the configuration: supported model type, positive
// sizes, heads dividing hidden_size (unless head_dim is explicit), kv heads
// dividing heads, even head_dim (RoPE rotates pairs), silu activation,
// finite positive rope_theta and rms_norm_eps, a valid rope_scaling, and
// sizes that imply at most MaxParameters parameters.
func (c *Config) Validate() error { return c.validate("config") }

func (c *Config) validate(name string) error {
	if _, ok := modelDefaults[c.ModelType]; !ok {
		return fmt.Errorf("%s: unsupported model_type %q (want llama, mistral or qwen2)", name, c.ModelType)
	}
	sizes := []struct {
		key string
		v   int
	}{
		{"vocab_size", c.VocabSize},
		{"hidden_size", c.HiddenSize},
		{"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads},
		{"head_dim", c.HeadDim},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
	}
	for _, s := range sizes {
		if s.v <= 0 {
			return fmt.Errorf("%s: %s = %d, want > 0", name, s.key, s.v)
		}
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("%s: num_attention_heads %d is not divisible by num_key_value_heads %d", name, c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	// head_dim may differ from hidden/heads only when it is explicit (or
	// the config was built in code, with no Raw).
	if _, explicit := c.Raw["head_dim"]; c.Raw != nil && !explicit && c.HeadDim*c.NumAttentionHeads != c.HiddenSize {
		if c.HiddenSize%c.NumAttentionHeads != 0 {
			return fmt.Errorf("%s: hidden_size %d is not divisible by num_attention_heads %d", name, c.HiddenSize, c.NumAttentionHeads)
		}
		return fmt.Errorf("%s: head_dim %d differs from hidden_size/num_attention_heads = %d", name, c.HeadDim, c.HiddenSize/c.NumAttentionHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("%s: head_dim %d is odd; RoPE needs an even head dimension", name, c.HeadDim)
	}
	if c.HiddenAct != "silu" {
		return fmt.Errorf("%s: hidden_act %q is not supported (want silu)", name, c.HiddenAct)
	}
	if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("%s: rope_theta %v, want a finite number > 0", name, c.RopeTheta)
	}
	if !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0) {
		return fmt.Errorf("%s: rms_norm_eps %v, want a finite number > 0", name, c.RMSNormEps)
	}
	if c.SlidingWindow < 0 {
		return fmt.Errorf("%s: sliding_window %d, want >= 0", name, c.SlidingWindow)
	}
	if c.ModelType == "llama" && (c.SlidingWindow != 0 || c.MaxWindowLayers != 0) {
		return fmt.Errorf("%s: llama has no sliding window (got %d)", name, c.SlidingWindow)
	}
	if c.MaxWindowLayers < 0 {
		return fmt.Errorf("%s: max_window_layers %d, want >= 0", name, c.MaxWindowLayers)
	}
	if err := c.RopeScaling.Validate(); err != nil {
		return fmt.Errorf("%s: rope_scaling: %w", name, err)
	}
	return c.checkSize(name)
}

// LoadConfig reads and validates a config.json file.
func LoadConfig(path string) (*Config, error) {
	data, err := paths.ReadRegular(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(data, path)
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	d := *c
	if c.RopeScaling != nil {
		s := *c.RopeScaling
		d.RopeScaling = &s
	}
	d.EOSTokenIDs = append([]int(nil), c.EOSTokenIDs...)
	if c.EOSTokenIDs == nil {
		d.EOSTokenIDs = nil
	}
	if c.Raw != nil {
		d.Raw = make(map[string]json.RawMessage, len(c.Raw))
		for k, v := range c.Raw {
			d.Raw[k] = append(json.RawMessage(nil), v...)
		}
	}
	return &d
}

// SetRope sets the RoPE base theta, the scaling (nil: plain RoPE) and
// max_position_embeddings (the new window; unchanged when maxPos <= 0), in
// the struct and in Raw.
func (c *Config) SetRope(theta float64, scaling *RopeScaling, maxPos int) {
	c.RopeTheta = theta
	if scaling != nil {
		s := *scaling
		c.RopeScaling = &s
	} else {
		c.RopeScaling = nil
	}
	if maxPos > 0 {
		c.MaxPositionEmbeddings = maxPos
	}
	if c.Raw == nil {
		c.Raw = map[string]json.RawMessage{}
	}
	c.Raw["rope_theta"] = mustJSON(theta)
	c.Raw["rope_scaling"] = ropeScalingRaw(c.RopeScaling)
	delete(c.Raw, "rope_parameters")
	c.Raw["max_position_embeddings"] = mustJSON(c.MaxPositionEmbeddings)
}

// ropeScalingRaw encodes s as transformers writes it (null when nil).
func ropeScalingRaw(s *RopeScaling) json.RawMessage {
	if s == nil {
		return json.RawMessage("null")
	}
	m := map[string]any{"rope_type": s.Type, "factor": s.Factor}
	if s.OriginalMaxPositionEmbeddings > 0 {
		m["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings
	}
	switch s.Type {
	case "llama3":
		m["low_freq_factor"] = s.LowFreqFactor
		m["high_freq_factor"] = s.HighFreqFactor
	case "yarn":
		m["beta_fast"] = s.BetaFast
		m["beta_slow"] = s.BetaSlow
		if s.AttentionFactor > 0 {
			m["attention_factor"] = s.AttentionFactor
		}
	}
	return mustJSON(m)
}

// syncRaw returns Raw with every modelled field whose value differs from
// what Raw says replaced by the struct's value; fields that agree keep
// their original bytes, unknown fields are kept as they are.
func (c *Config) syncRaw() (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(c.Raw)+8)
	for k, v := range c.Raw {
		out[k] = v
	}
	var old *Config
	if len(c.Raw) > 0 {
		if o, err := configFromRaw(c.Raw, "config"); err == nil {
			old = o
		}
	}
	if old == nil {
		old = &Config{BOSTokenID: -2, EOSTokenID: -2, SlidingWindow: -1, MaxWindowLayers: -1} // nothing agrees
	}
	set := func(key string, changed bool, v any) {
		if _, present := out[key]; changed || !present {
			out[key] = mustJSON(v)
		}
	}
	set("model_type", old.ModelType != c.ModelType, c.ModelType)
	set("vocab_size", old.VocabSize != c.VocabSize, c.VocabSize)
	set("hidden_size", old.HiddenSize != c.HiddenSize, c.HiddenSize)
	set("intermediate_size", old.IntermediateSize != c.IntermediateSize, c.IntermediateSize)
	set("num_hidden_layers", old.NumHiddenLayers != c.NumHiddenLayers, c.NumHiddenLayers)
	set("num_attention_heads", old.NumAttentionHeads != c.NumAttentionHeads, c.NumAttentionHeads)
	set("num_key_value_heads", old.NumKeyValueHeads != c.NumKeyValueHeads, c.NumKeyValueHeads)
	if old.HeadDim != c.HeadDim {
		out["head_dim"] = mustJSON(c.HeadDim)
	}
	set("rms_norm_eps", old.RMSNormEps != c.RMSNormEps, c.RMSNormEps)
	set("rope_theta", old.RopeTheta != c.RopeTheta, c.RopeTheta)
	if !ropeEqual(old.RopeScaling, c.RopeScaling) {
		out["rope_scaling"] = ropeScalingRaw(c.RopeScaling)
		delete(out, "rope_parameters")
	}
	set("max_position_embeddings", old.MaxPositionEmbeddings != c.MaxPositionEmbeddings, c.MaxPositionEmbeddings)
	set("tie_word_embeddings", old.TieWordEmbeddings != c.TieWordEmbeddings, c.TieWordEmbeddings)
	if c.ModelType != "qwen2" {
		set("attention_bias", old.AttentionBias != c.AttentionBias, c.AttentionBias)
	}
	if old.MLPBias != c.MLPBias {
		out["mlp_bias"] = mustJSON(c.MLPBias)
	}
	if old.SlidingWindow != c.SlidingWindow || old.MaxWindowLayers != c.MaxWindowLayers {
		c.syncSlidingWindow(out)
	}
	set("hidden_act", old.HiddenAct != c.HiddenAct, c.HiddenAct)
	set("initializer_range", old.InitializerRange != c.InitializerRange, c.InitializerRange)
	c.syncTokens(out, old)
	return out, nil
}

// syncSlidingWindow writes c's sliding window into out in its model
// type's keys.
func (c *Config) syncSlidingWindow(out map[string]json.RawMessage) {
	switch c.ModelType {
	case "qwen2":
		out["use_sliding_window"] = mustJSON(c.SlidingWindow > 0)
		if c.SlidingWindow > 0 {
			out["sliding_window"] = mustJSON(c.SlidingWindow)
			out["max_window_layers"] = mustJSON(c.MaxWindowLayers)
		}
	case "mistral":
		if c.SlidingWindow > 0 {
			out["sliding_window"] = mustJSON(c.SlidingWindow)
		} else {
			out["sliding_window"] = json.RawMessage("null")
		}
	}
}

// syncTokens writes c's BOS and EOS token ids and its dtype into out
// where they differ from old's.
func (c *Config) syncTokens(out map[string]json.RawMessage, old *Config) {
	if old.BOSTokenID != c.BOSTokenID {
		if c.BOSTokenID >= 0 {
			out["bos_token_id"] = mustJSON(c.BOSTokenID)
		} else {
			out["bos_token_id"] = json.RawMessage("null")
		}
	}
	eos := c.EOSTokenIDs
	if len(eos) == 0 && c.EOSTokenID >= 0 {
		eos = []int{c.EOSTokenID}
	}
	if len(eos) > 0 && eos[0] != c.EOSTokenID {
		eos = append([]int{c.EOSTokenID}, eos[1:]...)
	}
	if !slices.Equal(old.EOSTokenIDs, eos) {
		switch len(eos) {
		case 0:
			out["eos_token_id"] = json.RawMessage("null")
		case 1:
			out["eos_token_id"] = mustJSON(eos[0])
		default:
			out["eos_token_id"] = mustJSON(eos)
		}
	}
	if old.TorchDtype != c.TorchDtype {
		if _, v5 := out["dtype"]; v5 {
			out["dtype"] = mustJSON(c.TorchDtype)
		} else {
			out["torch_dtype"] = mustJSON(c.TorchDtype)
		}
	}
}

// MarshalJSON encodes the config as transformers writes config.json:
// Raw with the modelled fields updated, keys sorted, two-space indent.
func (c *Config) MarshalJSON() ([]byte, error) {
	raw, err := c.syncRaw()
	if err != nil {
		return nil, err
	}
	return json.Marshal(raw)
}

// Save validates c and writes it atomically to path as JSON with sorted
// keys and a two-space indent (as transformers' save_pretrained), keeping
// the fields this package does not model.
func (c *Config) Save(path string) error {
	if err := c.validate(path); err != nil {
		return err
	}
	raw, err := c.syncRaw()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	data, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: encode config: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'))
}

// DefaultRopeTheta returns the RoPE base for extending a model with base
// theta and head dimension headDim from a window of origLen tokens to
// targetLen tokens. The rule is transformers' dynamic-NTK base evaluated
// once at the target length (the "dynamic NTK" values of the LongRecipe
// paper, Table 4): with s = targetLen/origLen,
//
//	theta' = theta · (s·s − (s − 1))^(headDim/(headDim−2)).
//
// It gives 48.87M for Llama-3-8B 8k→80k (paper 48.9M), 131.5M for 8k→128k
// (paper 131.5M) and 13.54M for Qwen2-7B 32k→128k (paper 13.5M). When
// targetLen <= origLen (or an argument is not positive) theta is returned
// unchanged.
func DefaultRopeTheta(theta float64, headDim, origLen, targetLen int) float64 {
	if origLen <= 0 || targetLen <= origLen || headDim <= 2 || !(theta > 0) {
		return theta
	}
	s := float64(targetLen) / float64(origLen)
	d := float64(headDim)
	return theta * math.Pow(s*s-(s-1), d/(d-2))
}

// Helpers.

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func floatOr(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func isNull(msg json.RawMessage) bool {
	t := bytes.TrimSpace(msg)
	return len(t) == 0 || string(t) == "null"
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only called with ints, floats, strings, bools, maps of them:
		// a NaN/Inf float is refused by Validate before we get here.
		return json.RawMessage("null")
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func ropeEqual(a, b *RopeScaling) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// sortedKeys returns the keys of m in sorted order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
