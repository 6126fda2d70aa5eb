package torchlaunch

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Env is what a Python environment offers the torch backend: the one
// probe behind `longrecipe doctor`, `longrecipe plan --python` and the
// launcher's interpreter choice.
type Env struct {
	// Python is the interpreter probed; PythonVersion its version.
	Python        string `json:"-"`
	PythonVersion string `json:"python"`
	// Versions maps a distribution (torch, transformers, accelerate,
	// deepspeed, flash-attn, ring-flash-attn, safetensors, pyarrow) to its
	// installed version; absent when not installed.
	Versions map[string]string `json:"versions"`
	// TorchError is the first line of import torch's error ("" when it
	// imports); FSDP2Error that of the backend's FSDP2 import.
	TorchError string `json:"torch_error"`
	FSDP2Error string `json:"fsdp2_error"`
	// CUDA says whether torch sees CUDA; CUDAVersion is torch's CUDA
	// build; CUDADevices, DeviceNames and MinDeviceGiB describe the
	// visible GPUs.
	CUDA         bool     `json:"cuda"`
	CUDAVersion  string   `json:"cuda_version"`
	CUDADevices  int      `json:"cuda_devices"`
	DeviceNames  []string `json:"device_names"`
	MinDeviceGiB float64  `json:"min_device_gib"`
}

//go:embed probe.py
var probeScript string

// ProbeEnv runs python on a short script (torch imported, the other
// packages only looked up) and returns what it found. An error names the
// interpreter and its last line of output.
func ProbeEnv(ctx context.Context, python string) (Env, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, "-c", probeScript)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Env{}, fmt.Errorf("probe %s: %v: %s", python, err, lastLine(stderr.String()))
	}
	e := Env{Python: python}
	if err := json.Unmarshal(bytes.TrimSpace(out), &e); err != nil {
		return Env{}, fmt.Errorf("probe %s: bad output %q: %w", python, lastLine(string(out)), err)
	}
	return e, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// FindPython picks the interpreter the torch backend would use without
// installing anything, and says why: explicit, else $LONGRECIPE_PYTHON,
// else the cached environment of scripts/pyenv.sh, else python3 on PATH
// ("" when there is none). Python is the same order, installing the
// cached environment where FindPython falls back to python3.
func FindPython(explicit string) (path, how string) {
	switch {
	case explicit != "":
		return explicit, "--python"
	case os.Getenv("LONGRECIPE_PYTHON") != "":
		return os.Getenv("LONGRECIPE_PYTHON"), "$LONGRECIPE_PYTHON"
	}
	if p := CachedPython(); p != "" {
		return p, "the cached environment of scripts/pyenv.sh"
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p, "python3 on PATH; the pinned environment is not installed: bash scripts/pyenv.sh"
	}
	return "", ""
}
