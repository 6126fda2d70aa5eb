package gguf

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/longrecipe/longrecipe/hf"
)

// globalNames maps llama.cpp's names of the non-layer tensors.
var globalNames = map[string]string{
	"token_embd.weight":  "model.embed_tokens.weight",
	"output_norm.weight": "model.norm.weight",
	"output.weight":      "lm_head.weight",
}

// layerNames maps the part after blk.N. to the part after model.layers.N.
var layerNames = map[string]string{
	"attn_norm.weight":   "input_layernorm.weight",
	"ffn_norm.weight":    "post_attention_layernorm.weight",
	"attn_q.weight":      "self_attn.q_proj.weight",
	"attn_q.bias":        "self_attn.q_proj.bias",
	"attn_k.weight":      "self_attn.k_proj.weight",
	"attn_k.bias":        "self_attn.k_proj.bias",
	"attn_v.weight":      "self_attn.v_proj.weight",
	"attn_v.bias":        "self_attn.v_proj.bias",
	"attn_output.weight": "self_attn.o_proj.weight",
	"ffn_gate.weight":    "mlp.gate_proj.weight",
	"ffn_up.weight":      "mlp.up_proj.weight",
	"ffn_down.weight":    "mlp.down_proj.weight",
}

var blockRE = regexp.MustCompile(`^blk\.([0-9]{1,5})\.(.+)$`)

// hfLayerRE matches a Hugging Face layer tensor name.
var hfLayerRE = regexp.MustCompile(`^model\.layers\.([0-9]{1,5})\.(.+)$`)

// The same two tables read the other way, for export.
var globalGGUF, layerGGUF = invert(globalNames), invert(layerNames)

func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// GGUFName returns the llama.cpp name of a Hugging Face tensor name (the
// inverse of HFName), or "" when the tensor is not part of a
// llama/mistral/qwen2 model.
func GGUFName(name string) string {
	if n, ok := globalGGUF[name]; ok {
		return n
	}
	m := hfLayerRE.FindStringSubmatch(name)
	if m == nil {
		return ""
	}
	rest, ok := layerGGUF[m[2]]
	if !ok {
		return ""
	}
	layer, _ := strconv.Atoi(m[1])
	return "blk." + strconv.Itoa(layer) + "." + rest
}

// HFName returns the Hugging Face name of a llama.cpp tensor name, or ""
// when the tensor is not part of a llama/mistral/qwen2 model.
func HFName(name string) string {
	if n, ok := globalNames[name]; ok {
		return n
	}
	m := blockRE.FindStringSubmatch(name)
	if m == nil {
		return ""
	}
	rest, ok := layerNames[m[2]]
	if !ok {
		return ""
	}
	layer, _ := strconv.Atoi(m[1])
	return "model.layers." + strconv.Itoa(layer) + "." + rest
}

// permuteHeads returns how many heads llama.cpp's converter permuted the
// rows of a tensor by (0: not permuted). llama.cpp interleaves the two
// rotary halves of each query and key head for its llama architecture.
// name is the llama.cpp name; import and export both ask here.
func permuteHeads(arch, name string, cfg *hf.Config) int {
	if arch != "llama" {
		return 0
	}
	m := blockRE.FindStringSubmatch(name)
	if m == nil {
		return 0
	}
	switch m[2] {
	case "attn_q.weight", "attn_q.bias":
		return cfg.NumAttentionHeads
	case "attn_k.weight", "attn_k.bias":
		return cfg.NumKeyValueHeads
	}
	return 0
}

// srcRow returns the GGUF row holding Hugging Face row r of a tensor whose
// rows are heads blocks of headRows rows, permuted as llama.cpp does:
// within a head, HF row j·half+i is GGUF row 2i+j.
func srcRow(r, headRows int64) int64 {
	half := headRows / 2
	h, within := r/headRows, r%headRows
	j, i := within/half, within%half
	return h*headRows + 2*i + j
}

// hfRow is srcRow's inverse: the Hugging Face row that GGUF row g holds.
func hfRow(g, headRows int64) int64 {
	half := headRows / 2
	h, within := g/headRows, g%headRows
	return h*headRows + (within%2)*half + within/2
}

// tensorSource returns the streamed Hugging Face tensor for GGUF tensor t.
func (m *Model) tensorSource(t TensorInfo, hfName string, heads int, dtype hf.DType) (hf.TensorSource, error) {
	if !t.Type.Supported() {
		return hf.TensorSource{}, fmt.Errorf("gguf %s: tensor %q: ggml type %s is not supported (supported: %s)", t.File, t.Name, t.Type, SupportedTypes)
	}
	rows := t.Elements() / t.Dims[0]
	if len(t.Dims) == 1 {
		rows = t.Dims[0]
	}
	if heads > 0 && (rows%int64(heads) != 0 || (rows/int64(heads))%2 != 0) {
		return hf.TensorSource{}, fmt.Errorf("gguf %s: tensor %q: %d rows do not split into %d heads of even size", t.File, t.Name, rows, heads)
	}
	src := hf.TensorSource{Name: hfName, Shape: t.Shape(), DType: dtype}
	src.Chunks = func(yield func([]float32) error) error {
		return m.streamRows(t, heads, yield)
	}
	return src, nil
}

// chunkValues bounds how many values are dequantised at once.
const chunkValues = 1 << 20

// streamRows dequantises t in groups of rows, putting permuted heads back
// into Hugging Face order, and yields each group.
func (m *Model) streamRows(t TensorInfo, heads int, yield func([]float32) error) error {
	if len(t.Dims) == 1 {
		return m.streamVector(t, heads, yield)
	}
	rowLen := t.Dims[0]
	rows := t.Elements() / rowLen
	group := max(1, chunkValues/rowLen) // rows per chunk
	if heads > 0 {
		group = rows / int64(heads) // one head at a time
	}
	var buf []byte
	vals := make([]float32, group*rowLen)
	out := vals
	if heads > 0 {
		out = make([]float32, len(vals))
	}
	for r0 := int64(0); r0 < rows; r0 += group {
		n := min(group, rows-r0)
		if err := m.Float32Rows(t, r0, n, vals[:n*rowLen], &buf); err != nil {
			return err
		}
		if heads > 0 {
			for r := range n {
				s := srcRow(r, n)
				copy(out[r*rowLen:(r+1)*rowLen], vals[s*rowLen:(s+1)*rowLen])
			}
		}
		if err := yield(out[:n*rowLen]); err != nil {
			return err
		}
	}
	return nil
}

// streamVector yields a 1-D tensor (a norm weight or a bias), its
// elements put back into Hugging Face order when heads > 0.
func (m *Model) streamVector(t TensorInfo, heads int, yield func([]float32) error) error {
	var buf []byte
	vals := make([]float32, t.Dims[0])
	if err := m.Float32Rows(t, 0, 1, vals, &buf); err != nil {
		return err
	}
	if heads == 0 {
		return yield(vals)
	}
	out := make([]float32, len(vals))
	headRows := int64(len(vals) / heads)
	for r := range out {
		out[r] = vals[srcRow(int64(r), headRows)]
	}
	return yield(out)
}
