package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/longrecipe/longrecipe/plan"
	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/torchlaunch"
)

func init() {
	register(&command{
		name:    "plan",
		summary: "pre-flight plan for GPU training: per-GPU memory, sharding, checks, wall-clock; writes the launcher config",
		run:     runPlan,
	})
}

const planUsage = "plan MODEL_DIR --target-length Lt (--ratio r | --train-length Ls) --gpus N --gpu-mem GiB " +
	"[--nodes N] [--tokens-per-sec X] [--python PY|auto] [--json] [--write-launch FILE [--master-addr HOST] [--force]]\n" +
	"       longrecipe plan --served DIR --target-length Lt"

const planSummary = "Estimates, before anything is launched, what training one LongRecipe stage on the torch backend\n" +
	"needs on every GPU (weights, gradients, AdamW states, FSDP working set, activations with per-layer\n" +
	"checkpointing, the cross-entropy chunk, allocator headroom), picks the least costly layout that fits\n" +
	"(ddp, fsdp full shard, fsdp with CPU offload; then context parallelism 2, 4, …), checks what would fail after\n" +
	"launch, and estimates the wall-clock from a measured throughput or an assumed MFU. MODEL_DIR needs only\n" +
	"config.json; safetensors headers, when present, give the exact parameter count. Formulas and their\n" +
	"sources: the package doc of plan and docs/gpu.md. Lengths accept k and m: 128k = 131072.\n\n" +
	"With --served DIR it checks a trained or merged folder instead: the window vLLM derives from its\n" +
	"config.json and tokenizer_config.json must be the target length."

// planFlags are the command line of plan.
type planFlags struct {
	target, train, offload, launch, master *string
	served, python, metrics                *string
	ratio, gpuMem, tps, peak, mfu, hostMem *float64
	link                                   *float64
	gpus, nodes, cp, chunk, steps, batch   *int
	precision, sharding                    *string
	asJSON, force                          *bool
}

func newPlanFlags(fs *flag.FlagSet) *planFlags {
	return &planFlags{
		target:    fs.String("target-length", "", "Lt, the window to train for, e.g. 128k (required)"),
		train:     fs.String("train-length", "", "Ls, tokens per training row (default: round(ratio·Lt))"),
		ratio:     fs.Float64("ratio", positions.DefaultRatio, "Ls = round(ratio·Lt) when --train-length is not given"),
		gpus:      fs.Int("gpus", 0, "GPUs in all, over every node (required)"),
		gpuMem:    fs.Float64("gpu-mem", 0, "memory of one GPU in GiB, e.g. 80 (required)"),
		nodes:     fs.Int("nodes", 1, "nodes the GPUs are spread over"),
		precision: fs.String("precision", "bf16", "bf16 (autocast over fp32 parameters) or fp32"),
		sharding:  fs.String("sharding", "", "force none, ddp or fsdp (default: the least costly that fits)"),
		offload:   fs.String("offload", "auto", "CPU offload of the states with fsdp: auto, on or off"),
		cp:        fs.Int("context-parallel", 0, "force the context-parallel degree: GPUs sharing one row (default: the least that fits)"),
		link:      fs.Float64("link-gbps", plan.DefaultLinkGBps, "GPU-to-GPU bandwidth per direction in GB/s, for the context-parallel ring's time"),
		chunk:     fs.Int("ce-chunk", plan.DefaultCEChunk, "tokens per LM-head/cross-entropy chunk"),
		steps:     fs.Int("steps", plan.DefaultSteps, "optimizer steps of the stage"),
		batch:     fs.Int("global-batch", plan.DefaultGlobalBatch, "rows per optimizer step over all GPUs (the recipe's batch × grad_accum)"),
		tps:       fs.Float64("tokens-per-sec", 0, "measured throughput of the whole job (metrics.jsonl tokens_per_s); default: assume --mfu"),
		metrics:   fs.String("metrics", "", "a metrics.jsonl of a run of this job: its measured throughput (instead of --tokens-per-sec)"),
		peak:      fs.Float64("peak-tflops", plan.DefaultPeakTFLOPS, "dense bf16 peak of one GPU in TFLOPS (A100 312, H100/H200 989)"),
		mfu:       fs.Float64("mfu", plan.DefaultMFU, "assumed model FLOPs utilisation when no throughput is given"),
		hostMem:   fs.Float64("host-mem", 0, "host memory per node in GiB, to check (default: not checked)"),
		asJSON:    fs.Bool("json", false, "print the plan as JSON"),
		launch:    fs.String("write-launch", "", "write the launcher config (torchlaunch JSON) of a passing plan to this file"),
		force:     fs.Bool("force", false, "replace an existing --write-launch file"),
		master:    fs.String("master-addr", "", "host of rank 0 for the launcher config (required with --nodes > 1)"),
		python:    fs.String("python", "", "also check this Python environment (the launch machine's): FSDP2 import, tested versions, visible GPUs; \"auto\": the cached one"),
		served:    fs.String("served", "", "check the folder DIR serves at the target length (vLLM's rule) instead of planning"),
	}
}

func runPlan(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "plan", planUsage, planSummary)
	f := newPlanFlags(fs)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *f.served != "" {
		return runServedCheck(env, *f.served, *f.target, len(rest))
	}
	if len(rest) != 1 {
		return usageErrorf("want exactly one model folder, got %d arguments (usage: longrecipe %s)", len(rest), planUsage)
	}
	in, err := f.input()
	if err != nil {
		return err
	}
	if err := f.checkLaunchOutput(rest[0]); err != nil {
		return err
	}
	if in.Model, err = plan.LoadModel(rest[0]); err != nil {
		return err
	}
	p, err := plan.Make(in)
	if err != nil {
		return err
	}
	if err := checkEnv(ctx, p, *f.python); err != nil {
		return err
	}
	if err := printPlan(env, p, *f.asJSON); err != nil {
		return err
	}
	if *f.launch != "" {
		if err := plan.WriteLaunch(*f.launch, p, *f.master); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "wrote %s\n", *f.launch)
	}
	if !p.OK {
		return fmt.Errorf("plan failed its checks; see above")
	}
	return nil
}

// checkLaunchOutput applies the output rule to --write-launch before
// anything is planned: an existing file is replaced only with --force, and
// never one the plan reads (the model folder's files, --metrics).
func (f *planFlags) checkLaunchOutput(modelDir string) error {
	if *f.launch == "" {
		return nil
	}
	inputs := []string{modelDir, *f.metrics}
	entries, err := os.ReadDir(modelDir)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	for _, e := range entries {
		inputs = append(inputs, filepath.Join(modelDir, e.Name()))
	}
	return checkWrite("plan --write-launch", *f.launch, *f.force, inputs...)
}

// checkEnv adds the checks of the Python environment python ("" none,
// "auto" the cached one) to p.
func checkEnv(ctx context.Context, p *plan.Plan, python string) error {
	if python == "" {
		return nil
	}
	side, sideErr := torchlaunch.PythonSide()
	if python == "auto" {
		if sideErr != nil {
			return sideErr
		}
		var err error
		if python, err = torchlaunch.Python("", side.Dir); err != nil {
			return err
		}
	}
	probe, err := torchlaunch.ProbeEnv(ctx, python)
	if err != nil {
		return err
	}
	var pins map[string]string
	if sideErr == nil {
		pins, _ = plan.ReadPins(filepath.Join(side.Dir, "requirements.lock")) // none: every version is untested
	}
	p.AddChecks(plan.EnvChecks(probe, pins, p)...)
	return nil
}

// parseInterleaved parses flags given before and after the positional
// arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// input turns the flags into a plan.Input (without the model).
func (f *planFlags) input() (plan.Input, error) {
	if *f.target == "" || *f.gpus == 0 || *f.gpuMem == 0 {
		return plan.Input{}, usageErrorf("--target-length, --gpus and --gpu-mem are required")
	}
	in := plan.Input{
		Ratio: *f.ratio, GPUs: *f.gpus, GPUMemGiB: *f.gpuMem, Nodes: *f.nodes, Precision: *f.precision,
		Sharding: *f.sharding, CP: *f.cp, CEChunk: *f.chunk, Steps: *f.steps, GlobalBatch: *f.batch,
		TokensPerSec: *f.tps, PeakTFLOPS: *f.peak, MFU: *f.mfu, HostMemGiB: *f.hostMem, LinkGBps: *f.link,
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"--nodes", float64(*f.nodes)}, {"--ce-chunk", float64(*f.chunk)}, {"--steps", float64(*f.steps)},
		{"--global-batch", float64(*f.batch)}, {"--peak-tflops", *f.peak}, {"--mfu", *f.mfu}, {"--link-gbps", *f.link}} {
		if !(c.v > 0) {
			return in, usageErrorf("%s %g: want > 0", c.name, c.v)
		}
	}
	var err error
	if in.TargetLength, err = parseLength(*f.target); err != nil {
		return in, usageErrorf("--target-length: %v", err)
	}
	if *f.train != "" {
		if in.TrainLength, err = parseLength(*f.train); err != nil {
			return in, usageErrorf("--train-length: %v", err)
		}
	}
	if *f.metrics != "" {
		if *f.tps != 0 {
			return in, usageErrorf("--metrics and --tokens-per-sec: give one")
		}
		tps, n, err := plan.ThroughputFromMetrics(*f.metrics)
		if err != nil {
			return in, err
		}
		in.TokensPerSec, in.MeasuredFrom = tps, fmt.Sprintf("%s, %d steps", *f.metrics, n)
	}
	switch *f.offload {
	case "auto":
	case "on", "off":
		on := *f.offload == "on"
		in.Offload = &on
	default:
		return in, usageErrorf("--offload %q: want auto, on or off", *f.offload)
	}
	return in, nil
}

func printPlan(env *Env, p *plan.Plan, asJSON bool) error {
	if !asJSON {
		return plan.WriteText(env.Stdout, p)
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// runServedCheck prints the window vLLM derives for dir and fails when it
// is not the target.
func runServedCheck(env *Env, dir, target string, extra int) error {
	if extra != 0 || target == "" {
		return usageErrorf("--served DIR takes --target-length and no model folder")
	}
	lt, err := parseLength(target)
	if err != nil {
		return usageErrorf("--target-length: %v", err)
	}
	s, err := plan.CheckServed(dir, lt)
	if err != nil {
		return err
	}
	if len(s.Problems) > 0 {
		return fmt.Errorf("%s: %s", dir, s.Problems[0])
	}
	_, err = fmt.Fprintf(env.Stdout, "%s: served window %d tokens (%s) = the target\n", dir, s.Window, s.Key)
	return err
}
