package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/longrecipe/longrecipe/torchlaunch"
)

func init() {
	register(&command{
		name:    "doctor",
		summary: "check the Python side of --backend torch (python, torch, CUDA, transformers, accelerate, flash-attn)",
		run:     runDoctor,
	})
}

const doctorUsage = "doctor [--python PATH]"

func runDoctor(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "doctor", doctorUsage,
		"Prints one line each for python, torch (CUDA? how many devices), transformers, accelerate,\n"+
			"deepspeed, flash-attn and ring-flash-attn as the torch backend (train --backend torch) sees\n"+
			"them, and what to install when something is missing. The interpreter is --python, else\n"+
			"$LONGRECIPE_PYTHON, else the cached environment of scripts/pyenv.sh, else python3.\n"+
			"Exits 1 when the torch backend cannot run.")
	pyFlag := fs.String("python", "", "Python interpreter to check")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	py, how := torchlaunch.FindPython(*pyFlag)
	w := env.Stdout
	if side, err := torchlaunch.PythonSide(); err != nil {
		fmt.Fprintf(w, "python side:   %v\n", err)
	} else {
		fmt.Fprintf(w, "python side:   %s (%s)\n", side.Dir, side.How)
	}
	if py == "" {
		fmt.Fprintln(w, "python:        not found — install Python >= 3.10 (apt-get install python3 python3-venv), then run: bash scripts/pyenv.sh")
		return errors.New("no Python interpreter; the torch backend cannot run (the Go backend needs nothing)")
	}
	r, err := torchlaunch.ProbeEnv(ctx, py)
	if err != nil {
		fmt.Fprintf(w, "python:        %s does not run (%v) — install Python >= 3.10, then run: bash scripts/pyenv.sh\n", py, err)
		return err
	}
	fmt.Fprintf(w, "python:        %s (%s, %s)\n", r.PythonVersion, py, how)
	return doctorLines(w, &r)
}

// doctorLines prints one line per package the torch backend may use and
// fails when a needed one is missing or broken.
func doctorLines(w io.Writer, r *torchlaunch.Env) error {
	const setup = "run: bash scripts/pyenv.sh (pinned torch, transformers, accelerate in a cached environment)"
	var missing []string
	line := func(name string, ok, fix string, needed bool) {
		switch v, have := r.Versions[name]; {
		case have:
			fmt.Fprintf(w, "%-14s %s%s\n", name+":", v, ok)
		default:
			fmt.Fprintf(w, "%-14s not installed — %s\n", name+":", fix)
			if needed {
				missing = append(missing, name)
			}
		}
	}
	cuda := ", CUDA: no (CPU only: fp32, gloo)"
	if r.CUDA {
		cuda = fmt.Sprintf(", CUDA %s: %d device(s) %s", r.CUDAVersion, r.CUDADevices, strings.Join(r.DeviceNames, ", "))
	}
	if _, have := r.Versions["torch"]; have && r.TorchError != "" {
		cuda = ", but import torch fails: " + r.TorchError
		missing = append(missing, "torch (broken)")
	}
	line("torch", cuda, setup, true)
	line("transformers", "", setup, true)
	line("accelerate", " (launcher = \"accelerate\" works)", setup+"; only needed for launcher = \"accelerate\"", false)
	line("deepspeed", " (not used: the torch backend shards with FSDP)", "not needed (the torch backend shards with FSDP full shard, the ZeRO-3 equivalent)", false)
	flashFix := "optional, GPU only: pip install flash-attn --no-build-isolation (needs the CUDA toolkit); without it attention is SDPA"
	line("flash-attn", " (attn_implementation auto uses flash_attention_2 on CUDA)", flashFix, false)
	line("ring-flash-attn", " (installed; context parallelism uses the backend's own ring attention, not this package)", "not needed (context parallelism uses the backend's own ring attention)", false)
	if len(missing) > 0 {
		return fmt.Errorf("the torch backend cannot run: %s missing; %s", strings.Join(missing, ", "), setup)
	}
	return nil
}
