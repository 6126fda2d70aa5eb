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
// rank prints "LRERROR rank=R: message" and Train returns that line (with
// no such line, the first exception line of the output: a traceback's
// first cause); the other ranks, which may sit in a collective, are ended
// 3 s later. Rerunning the same job resumes from OUTPUT/checkpoints.
// Cancelling ctx sends SIGTERM to the ranks (not to torchrun, which would
// kill them 30 s later): they checkpoint before their next row and exit
// 143; the launcher waits two minutes plus three of the longest steps
// seen, then kills them. Before anything starts, Train refuses more ranks
// per node than the host has GPUs (or two per CPU core without GPUs). The Python
// side comes from $LONGRECIPE_ROOT/scaleout (developer override) or from
// the copy embedded in the binary (package scaleout), unpacked into the
// cache on first use; the ranks' peak RSS is printed at the end.
//
// It also runs the model calls of score and eval on PyTorch: StartScorer
// starts scaleout/longrecipe_torch/worker.py once per model, in its own
// process group (killed when the context is cancelled), and Scorer speaks
// JSON lines to it — logprobs, continuations (candidates scored from the
// prompt's KV cache) and generate requests; the protocol is in the
// worker's docstring and docs/gpu.md.
package torchlaunch
