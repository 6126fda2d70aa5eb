package experiment

import "github.com/longrecipe/longrecipe/hf"

// MatmulWeights returns the number of weights of a Llama-family model that
// take part in a matrix multiply for every token: per layer the Q, K, V and
// O projections and the three MLP matrices, plus the LM head (counted even
// when it is tied to the embeddings, since the product is computed). The
// embedding lookup, norms and biases are not counted.
func MatmulWeights(c *hf.Config) int64 {
	d := int64(c.HiddenSize)
	hd := int64(c.HeadDim)
	if hd == 0 {
		hd = d / int64(c.NumAttentionHeads)
	}
	kvh := int64(c.NumKeyValueHeads)
	if kvh == 0 {
		kvh = int64(c.NumAttentionHeads)
	}
	qd := int64(c.NumAttentionHeads) * hd
	kvd := kvh * hd
	perLayer := 2*qd*d + 2*kvd*d + 3*int64(c.IntermediateSize)*d
	return int64(c.NumHiddenLayers)*perLayer + int64(c.VocabSize)*d
}

// RowFLOPs returns the training FLOPs (forward and backward) of one row of
// t tokens:
//
//	6·W·t + 6·L·H·HD·t²
//
// where W is MatmulWeights, L the layers and H·HD the query width. The first
// term is 2 FLOPs per weight and token forward, 4 backward. The second is
// causal attention: QKᵀ and P·V cost 2·t²·H·HD each forward without the
// mask, halved by it (t²/2 pairs), and the backward costs twice the forward:
// 3 · (2 + 2) · H·HD · t²/2 per layer, i.e. 12·L·d·t²/2 with d = H·HD.
// Activation recomputation is not counted, as in MFU accounting.
func RowFLOPs(c *hf.Config, t int) float64 {
	hd := c.HeadDim
	if hd == 0 {
		hd = c.HiddenSize / c.NumAttentionHeads
	}
	tf := float64(t)
	qd := float64(c.NumAttentionHeads * hd)
	return 6*float64(MatmulWeights(c))*tf + 6*float64(c.NumHiddenLayers)*qd*tf*tf
}
