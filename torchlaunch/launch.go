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
//
// It also runs the model calls of score and eval on PyTorch: StartScorer
// starts scaleout/longrecipe_torch/worker.py once per model, in its own
// process group (killed when the context is cancelled), and Scorer speaks
// JSON lines to it — logprobs, continuations (candidates scored from the
// prompt's KV cache) and generate requests; the protocol is in the
// worker's docstring and docs/gpu.md.
package torchlaunch

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Launch is the launcher configuration: the JSON that "longrecipe plan"
// writes and "run" / "train --backend torch" read. Zero values take the
// defaults documented on each field.
type Launch struct {
	// Launcher is "torchrun" (default) or "accelerate".
	Launcher string `json:"launcher,omitempty"`
	// NprocPerNode is the number of processes (GPUs) per node; default 1.
	NprocPerNode int `json:"nproc_per_node,omitempty"`
	// NNodes is the number of nodes; default 1.
	NNodes int `json:"nnodes,omitempty"`
	// NodeRank is this node's rank, 0..NNodes-1.
	NodeRank int `json:"node_rank,omitempty"`
	// MasterAddr is the rank-0 host; required when NNodes > 1, default
	// 127.0.0.1.
	MasterAddr string `json:"master_addr,omitempty"`
	// MasterPort is the rendezvous port; 0 picks a free port (one node).
	MasterPort int `json:"master_port,omitempty"`
	// Sharding is "fsdp" (FSDP2 full shard, default), "ddp" or "none"
	// (one process only). DeepSpeed ZeRO-3 is not supported.
	Sharding string `json:"sharding,omitempty"`
	// Precision is "auto" (bf16 autocast on CUDA, fp32 on CPU), "bf16" or
	// "fp32".
	Precision string `json:"precision,omitempty"`
	// ActivationCheckpointing recomputes each decoder layer in the
	// backward pass; nil means true.
	ActivationCheckpointing *bool `json:"activation_checkpointing,omitempty"`
	// AttnImplementation is "auto" (flash_attention_2 when flash-attn is
	// installed on CUDA, else sdpa), "flash_attention_2", "sdpa" or "eager".
	AttnImplementation string `json:"attn_implementation,omitempty"`
	// CEChunkTokens is how many positions the LM head and cross-entropy
	// handle at once (the logits never exist for a whole row); default 4096.
	CEChunkTokens int `json:"ce_chunk_tokens,omitempty"`
	// SequenceParallel is the sequence-parallel degree; only 1 is
	// implemented.
	SequenceParallel int `json:"sequence_parallel,omitempty"`
	// CPUOffload keeps parameters, gradients and optimizer state on the
	// CPU (FSDP2 CPUOffloadPolicy).
	CPUOffload bool `json:"cpu_offload,omitempty"`
	// Python is the interpreter; "" uses $LONGRECIPE_PYTHON, else the
	// output of scripts/pyenv.sh.
	Python string `json:"python,omitempty"`
	// Plan holds whatever "longrecipe plan" records with the settings
	// (estimates, the inputs it planned for); the launcher ignores it.
	Plan json.RawMessage `json:"plan,omitempty"`
}

// DefaultLaunch is one local process with the defaults.
func DefaultLaunch() Launch { return Launch{}.WithDefaults() }

// WithDefaults returns l with its zero fields set to their defaults.
func (l Launch) WithDefaults() Launch {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&l.Launcher, "torchrun")
	def(&l.MasterAddr, "127.0.0.1")
	def(&l.Sharding, "fsdp")
	def(&l.Precision, "auto")
	def(&l.AttnImplementation, "auto")
	if l.NprocPerNode == 0 {
		l.NprocPerNode = 1
	}
	if l.NNodes == 0 {
		l.NNodes = 1
	}
	if l.CEChunkTokens == 0 {
		l.CEChunkTokens = 4096
	}
	if l.SequenceParallel == 0 {
		l.SequenceParallel = 1
	}
	if l.ActivationCheckpointing == nil {
		t := true
		l.ActivationCheckpointing = &t
	}
	return l
}

// World is the total number of processes.
func (l Launch) World() int { return max(1, l.NprocPerNode) * max(1, l.NNodes) }

// Validate reports a setting outside its domain, naming it.
func (l Launch) Validate() error {
	l = l.WithDefaults()
	in := func(v string, ok ...string) bool {
		for _, o := range ok {
			if v == o {
				return true
			}
		}
		return false
	}
	switch {
	case !in(l.Launcher, "torchrun", "accelerate"):
		return fmt.Errorf("launcher %q: want torchrun or accelerate", l.Launcher)
	case l.NprocPerNode < 1 || l.NNodes < 1:
		return fmt.Errorf("nproc_per_node %d and nnodes %d must be >= 1", l.NprocPerNode, l.NNodes)
	case l.NodeRank < 0 || l.NodeRank >= l.NNodes:
		return fmt.Errorf("node_rank %d is not in [0, nnodes=%d)", l.NodeRank, l.NNodes)
	case l.NNodes > 1 && l.MasterPort == 0:
		return fmt.Errorf("master_port is required with %d nodes (every node must use the same one)", l.NNodes)
	case l.MasterPort < 0 || l.MasterPort > 65535:
		return fmt.Errorf("master_port %d is not a port", l.MasterPort)
	case l.Sharding == "deepspeed-zero3" || l.Sharding == "deepspeed":
		return fmt.Errorf("sharding %q: DeepSpeed is not supported by the torch backend; use fsdp (full shard, the ZeRO-3 equivalent)", l.Sharding)
	case !in(l.Sharding, "fsdp", "ddp", "none"):
		return fmt.Errorf("sharding %q: want fsdp, ddp or none", l.Sharding)
	case l.Sharding == "none" && l.World() > 1:
		return fmt.Errorf("sharding none needs one process, not %d", l.World())
	case !in(l.Precision, "auto", "bf16", "fp32"):
		return fmt.Errorf("precision %q: want auto, bf16 or fp32", l.Precision)
	case !in(l.AttnImplementation, "auto", "flash_attention_2", "sdpa", "eager"):
		return fmt.Errorf("attn_implementation %q: want auto, flash_attention_2, sdpa or eager", l.AttnImplementation)
	case l.CEChunkTokens < 1:
		return fmt.Errorf("ce_chunk_tokens %d must be >= 1", l.CEChunkTokens)
	case l.SequenceParallel != 1:
		return fmt.Errorf("sequence_parallel %d: only 1 is implemented by the torch backend (see docs for the row lengths that need more GPUs, cpu_offload or a smaller train length)", l.SequenceParallel)
	}
	return nil
}

// LoadLaunch reads a launcher config file (unknown keys are errors) and
// checks it.
func LoadLaunch(path string) (Launch, error) {
	var l Launch
	b, err := paths.ReadRegular(path)
	if err != nil {
		return l, fmt.Errorf("launch config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, fmt.Errorf("launch config %s: %w", path, err)
	}
	if err := l.Validate(); err != nil {
		return l, fmt.Errorf("launch config %s: %w", path, err)
	}
	return l.WithDefaults(), nil
}
