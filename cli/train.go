package cli

import (
	"context"
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
	modelDir := fs.String("model", "", "input model folder (config.json + safetensors)")
	data := fs.String("data", "", "training rows: a JSONL file (input_ids, position_ids, loss_mask) or a shard folder")
	output := fs.String("output", "", "output folder (created; holds checkpoints to resume from)")
	steps := fs.Int("steps", 0, "optimizer steps (0: one epoch, ceil(rows / (batch × grad-accum)))")
	lr := fs.Float64("lr", 5e-5, "peak learning rate")
	batch := fs.Int("batch", 1, "rows per forward/backward pass (micro-batch)")
	accum := fs.Int("grad-accum", 1, "micro-batches per optimizer step; the loss is the mean over all their predicted tokens")
	schedule := fs.String("schedule", "constant", "learning-rate schedule: constant, cosine or linear (transformers' formulas)")
	warmup := fs.Int("warmup", 0, "linear warm-up steps from 0 to --lr")
	minLR := fs.Float64("min-lr", 0, "learning rate reached at the last step by cosine and linear")
	wd := fs.Float64("weight-decay", 0.1, "AdamW decoupled weight decay")
	decayAll := fs.Bool("decay-all", false, "also decay biases and norm weights (default: the Hugging Face Trainer convention, which exempts them)")
	beta1 := fs.Float64("beta1", 0.9, "AdamW β1")
	beta2 := fs.Float64("beta2", 0.999, "AdamW β2")
	eps := fs.Float64("eps", 1e-8, "AdamW epsilon")
	clip := fs.Float64("grad-clip", 1.0, "clip the global gradient norm to this (0: no clipping; 1.0 is the transformers default)")
	seed := fs.Int64("seed", 2027, "random seed, recorded in checkpoints (training draws no random numbers: rows in file order, no dropout)")
	every := fs.Int("checkpoint-every", 10, "write a checkpoint every N steps (0: only at the end and on interrupt)")
	saveDtype := fs.String("save-dtype", "", "dtype of the final model.safetensors: float32, bfloat16 or float16 (default: the input config's torch_dtype, float32 if it has none)")
	prec := precisionFlag(fs)
	checkpointing := fs.Bool("checkpointing", true, "activation checkpointing: recompute each layer's activations in the backward pass (less memory, one more forward pass)")
	threads := fs.Int("threads", 0, "goroutines for attention and elementwise work (0: all CPUs); part of the checkpointed settings")
	force := fs.Bool("force", false, "resume even if the checkpoint was made with other settings")
	backend := fs.String("backend", "go", "training engine: go (embedded) or torch (PyTorch FSDP through torchrun)")
	launchCfg := fs.String("launch-config", "", "torch: launcher settings JSON (written by `longrecipe plan`)")
	nproc := fs.Int("nproc", 0, "torch: processes (GPUs) per node (default 1)")
	cpDeg := fs.Int("context-parallel", 0, "torch: ranks that share one row (ring attention; must divide the world size; default 1)")
	nnodes := fs.Int("nnodes", 0, "torch: number of nodes (default 1)")
	nodeRank := fs.Int("node-rank", -1, "torch: this node's rank (default 0)")
	masterAddr := fs.String("master-addr", "", "torch: rank-0 host (default 127.0.0.1)")
	masterPort := fs.Int("master-port", 0, "torch: rendezvous port (default: a free one; required with --nnodes > 1)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	for _, req := range []struct{ name, val string }{{"model", *modelDir}, {"data", *data}, {"output", *output}} {
		if req.val == "" {
			return usageErrorf("--%s is required", req.name)
		}
	}
	if *steps < 0 || *batch <= 0 || *accum <= 0 || *every < 0 || *threads < 0 || *warmup < 0 {
		return usageErrorf("--steps, --warmup, --checkpoint-every, --threads must be >= 0 and --batch, --grad-accum > 0")
	}
	if err := (train.Schedule{Kind: *schedule, LR: *lr, Warmup: *warmup, MinLR: *minLR, Total: max(*steps, 1)}).Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	if err := (train.AdamWConfig{Beta1: *beta1, Beta2: *beta2, Eps: *eps, WeightDecay: *wd}).Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	if !(*clip >= 0) || math.IsInf(*clip, 0) {
		return usageErrorf("--grad-clip %v must be >= 0 and finite", *clip)
	}
	if *saveDtype != "" && !train.SaveDTypeOK(*saveDtype) {
		return usageErrorf("--save-dtype %q: want float32, bfloat16 or float16", *saveDtype)
	}
	if a, b := filepath.Clean(*modelDir), filepath.Clean(*output); a == b {
		return usageErrorf("--output must differ from --model (the input folder would be overwritten)")
	}
	if *backend == "go" && (*launchCfg != "" || *nproc != 0 || *cpDeg != 0 || *nnodes != 0 || *nodeRank >= 0 || *masterAddr != "" || *masterPort != 0) {
		return usageErrorf("--launch-config, --nproc, --context-parallel, --nnodes, --node-rank, --master-addr and --master-port need --backend torch")
	}
	if _, err := parsePrecision(*prec); err != nil {
		return err
	}
	s := trainer.Settings{Backend: *backend, Precision: *prec}
	if *backend == "torch" {
		var err error
		if s.Launch, err = launchSettings(*launchCfg, topology{*nproc, *cpDeg, *nnodes, *nodeRank, *masterAddr, *masterPort}); err != nil {
			return err
		}
	}
	tr, err := trainer.New(s)
	if err != nil {
		return usageErrorf("--%v", err)
	}
	h := train.Hyper{Steps: *steps, Batch: *batch, GradAccum: *accum, Schedule: *schedule, LR: *lr, Warmup: *warmup, MinLR: *minLR, GradClip: *clip, Seed: *seed}
	h.SetAdamW(train.AdamWConfig{Beta1: *beta1, Beta2: *beta2, Eps: *eps, WeightDecay: *wd, DecayAll: *decayAll})
	release, err := lockOutput(env, "train", *output)
	if err != nil {
		return err
	}
	defer release()
	res, err := tr.Train(ctx, trainer.Job{
		Hyper: h, From: *modelDir, Data: *data, Output: *output, CheckpointEvery: *every,
		Threads: *threads, Checkpointing: *checkpointing, SaveDType: *saveDtype, Force: *force,
		Progress: env.Stderr, Log: env.Stderr,
	})
	if err != nil {
		return err
	}
	if res.ResumedFrom == res.Steps {
		fmt.Fprintf(env.Stdout, "already trained %d steps; model folder %s written again\n", res.Steps, *output)
		return nil
	}
	fmt.Fprintf(env.Stdout, "trained %d steps (from step %d), last loss %.4f, %d tokens, %s of training; model folder %s\n",
		res.Steps, res.ResumedFrom, res.LastLoss, res.Tokens, res.Elapsed.Round(time.Millisecond), *output)
	return nil
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
