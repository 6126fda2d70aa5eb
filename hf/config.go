// Package hf reads and writes the Hugging Face model formats: config.json,
// safetensors files (single or sharded) and model folders.
package hf

import "encoding/json"

// RopeScaling is config.json's "rope_scaling" object.
type RopeScaling struct {
	// Type is "linear", "dynamic", "yarn" or "llama3" (config.json's
	// "rope_type", or the older "type").
	Type string
	// Factor is the context extension factor s (> 0).
	Factor float64
	// OriginalMaxPositionEmbeddings is the pretrained window (llama3, yarn,
	// dynamic); 0 when absent.
	OriginalMaxPositionEmbeddings int
	// LowFreqFactor and HighFreqFactor parameterise llama3 scaling.
	LowFreqFactor, HighFreqFactor float64
	// BetaFast and BetaSlow parameterise YaRN (defaults 32 and 1).
	BetaFast, BetaSlow float64
	// AttentionFactor is YaRN's attention temperature; 0 means the default
	// 0.1·ln(Factor)+1.
	AttentionFactor float64
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

	// Raw holds every field as read, so that Save writes back the fields
	// this package does not model.
	Raw map[string]json.RawMessage
}
