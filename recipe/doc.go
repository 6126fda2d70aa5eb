// Package recipe runs the three-stage LongRecipe recipe from one TOML file:
// prepare → stage 1 context extension → replay data → stage 2 annealing →
// stage 3 merge with the original → evaluation. Each stage writes its own
// folder with a stage.json manifest; a rerun skips the stages whose outputs
// are complete and whose inputs have not changed, and an interrupted
// training stage resumes from its last checkpoint.
//
// The package is the recipe's config (config.go: keys, defaults,
// validation) and its graph (run.go: which stages, in what order, with
// which inputs). The stage bodies are the shared steps (package steps,
// eval/folder.Evaluate); the trainer of a training stage comes from
// package trainer.
package recipe
