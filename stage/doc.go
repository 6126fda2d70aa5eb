// Package stage runs the steps of a pipeline (the recipe's stages, the
// experiment's runs, the tiny base model's phases) so that a rerun does
// only the work whose inputs changed. It is the one runner of the project.
//
// A stage is a folder and a function that fills it. Its inputs are its
// settings (any JSON-encodable value: hyperparameters, file hashes), the
// input hashes of the stages it reads from (Deps, by name, run earlier by
// the same Runner) and the contents of the files and folders it reads
// from outside the pipeline (Inputs: a corpus, a base model), keyed by
// content, not path (see Content: size and modification time as the fast
// check, SHA-256 when they change). The input hash is the SHA-256 of the
// JSON encoding of the three. No declared input may lie inside a stage
// folder (CheckInputs): the runner refuses the stage, naming the input,
// before it clears anything. Before a stage's function starts, the runner writes
// dir/pending.json (hash and settings); when the function returns without
// error it writes dir/stage.json (hash, settings, outputs, timing) and
// removes pending.json. From the folder alone, a stage is:
//
//   - done: stage.json exists and records the current input hash. The
//     stage is skipped and its recorded outputs are returned.
//   - partial: no stage.json with the current hash, and pending.json
//     records the current hash: an earlier run with the same inputs was
//     interrupted. A Resumable stage keeps the folder and its function
//     resumes (training continues from its last checkpoint); any other
//     stage is cleared and run again.
//   - inputs changed: stage.json or pending.json records another hash. The
//     folder is cleared and the stage runs from the start, and the log
//     says so, naming the settings, upstream stages and inputs ("input
//     data.corpus") that differ. This
//     holds for a partial stage too: a partial folder never resumes under
//     settings other than the ones it was started with — unless the
//     stage's Continue accepts the change (a training run given more
//     steps under a constant schedule): then the folder is kept and the
//     function continues in it, and the log says that too.
//   - new: the folder is absent, or holds neither record (its contents are
//     unknown, so it is cleared).
//
// Force reruns a stage from an empty folder whatever its state. A stage
// that fails writes no stage.json, so the next run retries it. The runner
// is not safe for concurrent use, and one folder must hold one stage.
package stage
