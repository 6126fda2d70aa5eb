// Package train fine-tunes a model: AdamW with fp32 master weights and
// moments, learning-rate schedules, global-norm gradient clipping, gradient
// accumulation, and a training loop whose checkpoints resume to
// bit-identical weights after a crash.
//
// The loop (Run) takes one optimizer step per Batch·GradAccum rows, read
// in file order: step s uses rows s·B·K … s·B·K+B·K−1, modulo the number
// of rows (reading past the end wraps around to row 0: the next epoch).
// Micro-step k of a step is one forward/backward pass over B rows. The
// loss of a step is the mean next-token NLL over every predicted token of
// its B·K rows: the micro-steps' loss sums and token counts are added and
// the accumulated gradients are divided by the token count before
// clipping and the update.
package train
