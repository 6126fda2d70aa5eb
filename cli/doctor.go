package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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

// doctorProbe prints the versions the torch backend depends on as JSON. It
// never fails: a missing package is null.
const doctorProbe = `
import json, sys, importlib.metadata as md
def v(p):
    try: return md.version(p)
    except Exception: return None
r = {"python": sys.version.split()[0]}
for p in ("torch", "transformers", "accelerate", "deepspeed", "flash-attn", "ring-flash-attn", "safetensors", "pyarrow"):
    r[p] = v(p)
try:
    import torch
    r["cuda"] = torch.cuda.is_available()
    r["cuda_version"] = torch.version.cuda
    r["devices"] = torch.cuda.device_count() if r["cuda"] else 0
    r["device_names"] = [torch.cuda.get_device_name(i) for i in range(r["devices"])]
except Exception as e:
    r["torch_error"] = (str(e).splitlines() or [type(e).__name__])[0]
print(json.dumps(r))
`

// doctorReport is doctorProbe's output.
type doctorReport struct {
	Python      string   `json:"python"`
	Torch       *string  `json:"torch"`
	Transformer *string  `json:"transformers"`
	Accelerate  *string  `json:"accelerate"`
	DeepSpeed   *string  `json:"deepspeed"`
	FlashAttn   *string  `json:"flash-attn"`
	RingFlash   *string  `json:"ring-flash-attn"`
	CUDA        bool     `json:"cuda"`
	CUDAVersion *string  `json:"cuda_version"`
	Devices     int      `json:"devices"`
	DeviceNames []string `json:"device_names"`
	TorchError  string   `json:"torch_error"`
}

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
	py, how := doctorPython(*pyFlag)
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
	out, err := exec.CommandContext(ctx, py, "-c", doctorProbe).Output()
	var r doctorReport
	if err == nil {
		err = json.Unmarshal(out, &r)
	}
	if err != nil {
		fmt.Fprintf(w, "python:        %s does not run (%v) — install Python >= 3.10, then run: bash scripts/pyenv.sh\n", py, err)
		return fmt.Errorf("%s: %w", py, err)
	}
	fmt.Fprintf(w, "python:        %s (%s, %s)\n", r.Python, py, how)
	return doctorLines(w, &r)
}

// doctorPython picks the interpreter the torch backend would use, without
// installing anything.
func doctorPython(explicit string) (path, how string) {
	switch {
	case explicit != "":
		return explicit, "--python"
	case os.Getenv("LONGRECIPE_PYTHON") != "":
		return os.Getenv("LONGRECIPE_PYTHON"), "$LONGRECIPE_PYTHON"
	}
	if p := torchlaunch.CachedPython(); p != "" {
		return p, "the cached environment of scripts/pyenv.sh"
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p, "python3 on PATH; the pinned environment is not installed: bash scripts/pyenv.sh"
	}
	return "", ""
}

func doctorLines(w io.Writer, r *doctorReport) error {
	const setup = "run: bash scripts/pyenv.sh (pinned torch, transformers, accelerate in a cached environment)"
	ver := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	var missing []string
	line := func(name string, v *string, ok, fix string, needed bool) {
		switch {
		case v != nil:
			fmt.Fprintf(w, "%-14s %s%s\n", name+":", *v, ok)
		default:
			fmt.Fprintf(w, "%-14s not installed — %s\n", name+":", fix)
			if needed {
				missing = append(missing, name)
			}
		}
	}
	cuda := ", CUDA: no (CPU only: fp32, gloo)"
	if r.CUDA {
		cuda = fmt.Sprintf(", CUDA %s: %d device(s) %s", ver(r.CUDAVersion), r.Devices, strings.Join(r.DeviceNames, ", "))
	}
	if r.TorchError != "" && r.Torch != nil {
		cuda = ", but import torch fails: " + r.TorchError
		missing = append(missing, "torch (broken)")
	}
	line("torch", r.Torch, cuda, setup, true)
	line("transformers", r.Transformer, "", setup, true)
	line("accelerate", r.Accelerate, " (launcher = \"accelerate\" works)", setup+"; only needed for launcher = \"accelerate\"", false)
	line("deepspeed", r.DeepSpeed, " (not used: the torch backend shards with FSDP)", "not needed (the torch backend shards with FSDP full shard, the ZeRO-3 equivalent)", false)
	flashFix := "optional, GPU only: pip install flash-attn --no-build-isolation (needs the CUDA toolkit); without it attention is SDPA"
	line("flash-attn", r.FlashAttn, " (attn_implementation auto uses flash_attention_2 on CUDA)", flashFix, false)
	line("ring-flash-attn", r.RingFlash, " (installed, but the torch backend does not use sequence parallelism)", "not needed (sequence_parallel must be 1; see the GPU docs for long rows)", false)
	if len(missing) > 0 {
		return fmt.Errorf("the torch backend cannot run: %s missing; %s", strings.Join(missing, ", "), setup)
	}
	return nil
}
