package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/longrecipe/longrecipe/torchlaunch"
	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

func init() {
	register(&command{
		name:    "train",
		summary: "fine-tune a model (AdamW, schedules, checkpoints that resume bit-identically)",
		run:     runTrain,
	})
}

const trainUsage = "train --model DIR --data F.jsonl|SHARD_DIR --output DIR [--steps N] [--lr 5e-5] [--batch 1] [--grad-accum 1] [--schedule constant|cosine|linear] [--backend go|torch [--nproc N] [--context-parallel N] [--nnodes N --node-rank R --master-addr A --master-port P] [--launch-config F]] [flags]"

func runTrain(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "train", trainUsage,
		"Trains the model in --model on the rows of --data (a JSONL file or a shard folder) in file order,\n"+
			"one AdamW step per batch×grad-accum rows (wrapping around at the end of the data), and writes a\n"+
			"Hugging Face model folder to --output (config.json, model.safetensors, tokenizer files) with\n"+
			"metrics.jsonl, loss.png, lr.png and checkpoints/ (fp32 weights, AdamW moments, state).\n"+
			"Rerunning the same command resumes from the last checkpoint, bit-identically; other\n"+
			"hyperparameters are refused unless --force. Defaults are the LongRecipe paper's stage 1 (AdamW\n"+
			"0.9/0.999, eps 1e-8, weight decay 0.1, constant LR 5e-5, seed 2027) except batch 1 and\n"+
			"grad-accum 1 (the paper: 1 × 96), sized for a CPU.\n"+
			"--backend torch runs the same training on PyTorch (FSDP full shard over --nproc processes per\n"+
			"node, torchrun; bf16 on GPUs, fp32 on CPU) with the Python environment of scripts/pyenv.sh; its\n"+
			"losses equal the Go trainer's. --context-parallel N splits each row over N ranks (ring\n"+
			"attention; world = data-parallel x N, FSDP over all ranks). --launch-config reads the settings `longrecipe plan` writes;\n"+
			"the flags given override it. Its checkpoints are its own (resume with the same backend).")
	f := newTrainFlags(fs)
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	s, err := f.settings()
	if err != nil {
		return err
	}
	tr, err := trainer.New(s)
	if err != nil {
		return usageErrorf("--%v", err)
	}
	f.job.Hyper.SetAdamW(f.adamw)
	f.job.Progress, f.job.Log = env.Stderr, env.Stderr
	release, err := lockOutput(env, "train", f.job.Output)
	if err != nil {
		return err
	}
	defer release()
	res, err := tr.Train(ctx, f.job)
	if err != nil {
		return err
	}
	if res.ResumedFrom == res.Steps {
		fmt.Fprintf(env.Stdout, "already trained %d steps; model folder %s written again\n", res.Steps, f.job.Output)
		return nil
	}
	fmt.Fprintf(env.Stdout, "trained %d steps (from step %d), last loss %.4f, %d tokens, %s of training; model folder %s\n",
		res.Steps, res.ResumedFrom, res.LastLoss, res.Tokens, res.Elapsed.Round(time.Millisecond), f.job.Output)
	return nil
}

// trainFlags are train's flags: the job, its AdamW settings and the
// trainer settings.
type trainFlags struct {
	job                      trainer.Job
	adamw                    train.AdamWConfig
	prec, backend, launchCfg *string
	topo                     topology
}

// newTrainFlags adds train's flags to fs.
func newTrainFlags(fs *flag.FlagSet) *trainFlags {
	f := &trainFlags{}
	j, h, a := &f.job, &f.job.Hyper, &f.adamw
	fs.StringVar(&j.From, "model", "", "input model folder (config.json + safetensors)")
	fs.StringVar(&j.Data, "data", "", "training rows: a JSONL file (input_ids, position_ids, loss_mask) or a shard folder")
	fs.StringVar(&j.Output, "output", "", "output folder (created; holds checkpoints to resume from)")
	fs.IntVar(&h.Steps, "steps", 0, "optimizer steps (0: one epoch, ceil(rows / (batch × grad-accum)))")
	fs.Float64Var(&h.LR, "lr", 5e-5, "peak learning rate")
	fs.IntVar(&h.Batch, "batch", 1, "rows per forward/backward pass (micro-batch)")
	fs.IntVar(&h.GradAccum, "grad-accum", 1, "micro-batches per optimizer step; the loss is the mean over all their predicted tokens")
	fs.StringVar(&h.Schedule, "schedule", "constant", "learning-rate schedule: constant, cosine or linear (transformers' formulas)")
	fs.IntVar(&h.Warmup, "warmup", 0, "linear warm-up steps from 0 to --lr")
	fs.Float64Var(&h.MinLR, "min-lr", 0, "learning rate reached at the last step by cosine and linear")
	fs.Float64Var(&a.WeightDecay, "weight-decay", 0.1, "AdamW decoupled weight decay")
	fs.BoolVar(&a.DecayAll, "decay-all", false, "also decay biases and norm weights (default: the Hugging Face Trainer convention, which exempts them)")
	fs.Float64Var(&a.Beta1, "beta1", 0.9, "AdamW β1")
	fs.Float64Var(&a.Beta2, "beta2", 0.999, "AdamW β2")
	fs.Float64Var(&a.Eps, "eps", 1e-8, "AdamW epsilon")
	fs.Float64Var(&h.GradClip, "grad-clip", 1.0, "clip the global gradient norm to this (0: no clipping; 1.0 is the transformers default)")
	fs.Int64Var(&h.Seed, "seed", 2027, "random seed, recorded in checkpoints (training draws no random numbers: rows in file order, no dropout)")
	fs.IntVar(&j.CheckpointEvery, "checkpoint-every", 10, "write a checkpoint every N steps (0: only at the end and on interrupt)")
	fs.StringVar(&j.SaveDType, "save-dtype", "", "dtype of the final model.safetensors: float32, bfloat16 or float16 (default: the input config's torch_dtype, float32 if it has none)")
	f.prec = precisionFlag(fs)
	fs.BoolVar(&j.Checkpointing, "checkpointing", true, "activation checkpointing: recompute each layer's activations in the backward pass (less memory, one more forward pass)")
	fs.IntVar(&j.Threads, "threads", 0, "goroutines for attention and elementwise work (0: all CPUs); part of the checkpointed settings")
	fs.BoolVar(&j.Force, "force", false, "resume even if the checkpoint was made with other settings")
	f.backend = fs.String("backend", "go", "training engine: go (embedded) or torch (PyTorch FSDP through torchrun)")
	f.launchCfg = fs.String("launch-config", "", "torch: launcher settings JSON (written by `longrecipe plan`)")
	fs.IntVar(&f.topo.nproc, "nproc", 0, "torch: processes (GPUs) per node (default 1)")
	fs.IntVar(&f.topo.cp, "context-parallel", 0, "torch: ranks that share one row (ring attention; must divide the world size; default 1)")
	fs.IntVar(&f.topo.nnodes, "nnodes", 0, "torch: number of nodes (default 1)")
	fs.IntVar(&f.topo.nodeRank, "node-rank", -1, "torch: this node's rank (default 0)")
	fs.StringVar(&f.topo.addr, "master-addr", "", "torch: rank-0 host (default 127.0.0.1)")
	fs.IntVar(&f.topo.port, "master-port", 0, "torch: rendezvous port (default: a free one; required with --nnodes > 1)")
	return f
}

// check validates the job's flags, naming the flag at fault.
func (f *trainFlags) check() error {
	j, h := &f.job, &f.job.Hyper
	for _, req := range []struct{ name, val string }{{"model", j.From}, {"data", j.Data}, {"output", j.Output}} {
		if req.val == "" {
			return usageErrorf("--%s is required", req.name)
		}
	}
	if h.Steps < 0 || h.Batch <= 0 || h.GradAccum <= 0 || j.CheckpointEvery < 0 || j.Threads < 0 || h.Warmup < 0 {
		return usageErrorf("--steps, --warmup, --checkpoint-every, --threads must be >= 0 and --batch, --grad-accum > 0")
	}
	if err := (train.Schedule{Kind: h.Schedule, LR: h.LR, Warmup: h.Warmup, MinLR: h.MinLR, Total: max(h.Steps, 1)}).Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	if err := (train.AdamWConfig{Beta1: f.adamw.Beta1, Beta2: f.adamw.Beta2, Eps: f.adamw.Eps, WeightDecay: f.adamw.WeightDecay}).Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	if !(h.GradClip >= 0) || math.IsInf(h.GradClip, 0) {
		return usageErrorf("--grad-clip %v must be >= 0 and finite", h.GradClip)
	}
	if j.SaveDType != "" && !train.SaveDTypeOK(j.SaveDType) {
		return usageErrorf("--save-dtype %q: want float32, bfloat16 or float16", j.SaveDType)
	}
	if a, b := filepath.Clean(j.From), filepath.Clean(j.Output); a == b {
		return usageErrorf("--output must differ from --model (the input folder would be overwritten)")
	}
	_, err := parsePrecision(*f.prec)
	return err
}

// settings are the trainer settings of the flags: the backend, the
// precision and, for torch, the launch file with the flags over it.
func (f *trainFlags) settings() (trainer.Settings, error) {
	s := trainer.Settings{Backend: *f.backend, Precision: *f.prec}
	t := f.topo
	launchFlags := *f.launchCfg != "" || t.nproc != 0 || t.cp != 0 || t.nnodes != 0 || t.nodeRank >= 0 || t.addr != "" || t.port != 0
	switch {
	case *f.backend == "go" && launchFlags:
		return s, usageErrorf("--launch-config, --nproc, --context-parallel, --nnodes, --node-rank, --master-addr and --master-port need --backend torch")
	case *f.backend != "torch":
		return s, nil // trainer.New names a bad backend
	}
	var err error
	s.Launch, err = launchSettings(*f.launchCfg, f.topo)
	return s, err
}

// topology is the torch flags of train that override the launch file
// (zero, or -1 for nodeRank: not given).
type topology struct {
	nproc, cp, nnodes, nodeRank int
	addr                        string
	port                        int
}

// launchSettings reads the launcher config file (if any) and applies the
// flags given on the command line over it (trainer.Overlay, the rule of a
// recipe's launch table).
func launchSettings(path string, t topology) (torchlaunch.Launch, error) {
	l := torchlaunch.DefaultLaunch()
	if path != "" {
		var err error
		if l, err = torchlaunch.LoadLaunch(path); err != nil {
			return l, err
		}
	}
	if t.nproc < 0 || t.cp < 0 || t.nnodes < 0 || t.port < 0 {
		return l, usageErrorf("--nproc, --context-parallel, --nnodes and --master-port must be >= 0")
	}
	keys := map[string]any{}
	for _, f := range []struct {
		key string
		v   any
		set bool
	}{
		{"nproc_per_node", t.nproc, t.nproc > 0}, {"context_parallel", t.cp, t.cp > 0}, {"nnodes", t.nnodes, t.nnodes > 0},
		{"node_rank", t.nodeRank, t.nodeRank >= 0}, {"master_addr", t.addr, t.addr != ""}, {"master_port", t.port, t.port > 0},
	} {
		if f.set {
			keys[f.key] = f.v
		}
	}
	l, err := trainer.Overlay(l, keys)
	if err != nil {
		return l, usageErrorf("%v", err)
	}
	return l, nil
}
