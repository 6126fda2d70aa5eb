// Package steps holds the bodies of the pipeline's steps, written once and
// composed by the recipe, the experiment and the tiny base build:
//
//   - Theta and Start: the θ rule and the start model (the base with the
//     new window and RoPE base, before any training);
//   - Rows: a data job (prepare or replay packing) into binary shards;
//   - Train: one training run through a trainer.Trainer, summarised;
//   - Merge: the weighted average with the original weights;
//   - AnalysisDocs: the documents an impactful-token analysis scores
//     (the analysis itself is analyze.Run).
//
// The evaluation step is folder.Evaluate (package eval/folder), the one
// way a model folder becomes an evaluation.
//
// Each step is a function or a Run method with the signature of
// stage.Stage.Run, taking typed settings; the caller (package recipe,
// experiment, tinybase) wires them into stage.Stages, names them and
// chooses which settings are a stage's inputs.
package steps
