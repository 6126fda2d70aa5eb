// Package torchlaunch runs a training stage on the PyTorch backend
// (scaleout/longrecipe_torch) through torchrun or accelerate launch.
//
// Contract: Train writes the job (train.Hyper, the model and data paths,
// the Launch settings) as JSON to OUTPUT/torch-job.json, starts the launcher
// with the Python of the cached environment (scripts/pyenv.sh) and
// PYTHONPATH=scaleout, and waits. The Python side has the Go trainer's
// semantics (same rows in the same order, same loss, AdamW, schedule,
// clipping, metrics.jsonl keys, final Hugging Face folder), proven by the
// parity tests. Per-step lines "LRMETRIC {json}" on the ranks' stdout
// drive the progress bar; "LRRESULT {json}" is the summary; a failing
// rank prints "LRERROR rank=R: message" and Train returns that line.
// Rerunning the same job resumes from OUTPUT/checkpoints. Cancelling ctx
// sends SIGINT (one process) or SIGTERM (launcher and ranks): the ranks
// checkpoint at the next step boundary and exit.
package torchlaunch
