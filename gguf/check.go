package gguf

import (
	"fmt"
	"slices"

	"github.com/longrecipe/longrecipe/hf"
)

// expectedShapes returns the Hugging Face tensors a Llama-family model
// with cfg's sizes has, each with its shape ([out, in] for a projection):
// the embeddings, the final norm, the LM head unless tied, and per layer
// the two norms and the seven projections (q/k/v biases when
// cfg.AttentionBias, MLP biases when cfg.MLPBias).
func expectedShapes(cfg *hf.Config) map[string][]int {
	h, v, in := cfg.HiddenSize, cfg.VocabSize, cfg.IntermediateSize
	q, kv := cfg.NumAttentionHeads*cfg.HeadDim, cfg.NumKeyValueHeads*cfg.HeadDim
	want := map[string][]int{"model.embed_tokens.weight": {v, h}, "model.norm.weight": {h}}
	if !cfg.TieWordEmbeddings {
		want["lm_head.weight"] = []int{v, h}
	}
	for l := range cfg.NumHiddenLayers {
		p := fmt.Sprintf("model.layers.%d.", l)
		layer := map[string][]int{
			"input_layernorm.weight": {h}, "post_attention_layernorm.weight": {h},
			"self_attn.q_proj.weight": {q, h}, "self_attn.k_proj.weight": {kv, h},
			"self_attn.v_proj.weight": {kv, h}, "self_attn.o_proj.weight": {h, q},
			"mlp.gate_proj.weight": {in, h}, "mlp.up_proj.weight": {in, h}, "mlp.down_proj.weight": {h, in},
		}
		if cfg.AttentionBias {
			layer["self_attn.q_proj.bias"], layer["self_attn.k_proj.bias"], layer["self_attn.v_proj.bias"] = []int{q}, []int{kv}, []int{kv}
		}
		if cfg.MLPBias {
			layer["mlp.gate_proj.bias"], layer["mlp.up_proj.bias"], layer["mlp.down_proj.bias"] = []int{in}, []int{in}, []int{h}
		}
		for n, s := range layer {
			want[p+n] = s
		}
	}
	return want
}

// checkTensors compares the tensors the import would write (srcs, named
// from the GGUF tensors in names) with the tensors the metadata implies:
// each present once with its shape, none missing, none extra (a block
// beyond block_count, a bias the architecture has not). It runs before
// anything is written; the error names the GGUF file and tensor.
func checkTensors(path, arch string, cfg *hf.Config, srcs []hf.TensorSource, names []string) error {
	want := expectedShapes(cfg)
	seen := map[string]bool{}
	for i, s := range srcs {
		w, ok := want[s.Name]
		switch {
		case seen[s.Name]:
			return fmt.Errorf("gguf %s: tensor %q: a second tensor for %s", path, names[i], s.Name)
		case !ok:
			return fmt.Errorf("gguf %s: tensor %q (%s) is not part of the %s model its metadata describes (%s.block_count %d, biases %v)",
				path, names[i], s.Name, arch, arch, cfg.NumHiddenLayers, cfg.AttentionBias)
		case !slices.Equal(s.Shape, w):
			return fmt.Errorf("gguf %s: tensor %q has shape %v as %s, the metadata implies %v%s",
				path, names[i], s.Shape, s.Name, w, transposedHint(s.Shape, w))
		}
		seen[s.Name] = true
	}
	var missing []string
	for n := range want {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("gguf %s: tensor %q is missing (%d missing; the metadata says %s.block_count %d, tied embeddings %v)",
			path, ggufName(missing[0]), len(missing), arch, cfg.NumHiddenLayers, cfg.TieWordEmbeddings)
	}
	return nil
}

func transposedHint(got, want []int) string {
	if len(got) == 2 && len(want) == 2 && got[0] == want[1] && got[1] == want[0] {
		return " (transposed)"
	}
	return ""
}

// ggufName is the llama.cpp name of a Hugging Face tensor name (HFName's
// inverse), or the name itself when it has none.
func ggufName(hfName string) string {
	for g, h := range globalNames {
		if h == hfName {
			return g
		}
	}
	var layer int
	var rest string
	if _, err := fmt.Sscanf(hfName, "model.layers.%d.%s", &layer, &rest); err == nil {
		for g, h := range layerNames {
			if h == rest {
				return fmt.Sprintf("blk.%d.%s", layer, g)
			}
		}
	}
	return hfName
}
