// Package model implements Llama-family transformers (llama, mistral,
// qwen2): parameters, forward and hand-written backward passes, RoPE
// variants, memory-lean attention, scoring and generation. Weights,
// gradients, norms, softmax and loss are float32; the matrix multiplies
// run in float32 or with bfloat16 operands (see Precision). The backward
// passes follow one gradient rule, stated in forward.go.
package model
