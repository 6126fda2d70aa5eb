package model

// Param is one trainable tensor with its gradient, named as in the
// Hugging Face checkpoint (e.g. "model.layers.0.self_attn.q_proj.weight").
type Param struct {
	Name  string
	Shape []int
	W     []float32 // weights (fp32 master copy), row-major
	G     []float32 // gradient accumulator, same length as W
}

// Batch is a set of sequences for one forward/backward pass. Each sequence
// has its own position ids; sequences may differ in length.
type Batch struct {
	// Tokens[i] is sequence i's input ids.
	Tokens [][]int32
	// Positions[i] are the RoPE position ids of Tokens[i] (same length,
	// strictly increasing in practice). nil means 0..len-1.
	Positions [][]int32
	// LossMask[i][t] false excludes the prediction of Tokens[i][t+1] from
	// the loss; nil means every next-token prediction counts. When not nil
	// it has len(Tokens[i]) entries (the last one is unused).
	LossMask [][]bool
}
