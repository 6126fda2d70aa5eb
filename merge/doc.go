// Package merge averages the parameters of checkpoints of one architecture
// (LongRecipe stage 3: θ = w₁·θ₁ + w₂·θ₂ + …, parameter by parameter),
// streaming tensor by tensor and chunk by chunk so that memory stays small
// whatever the checkpoint size.
package merge
