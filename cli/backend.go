package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/torchlaunch"
)

// backendFlags are the --backend and --device flags of the commands that
// measure a model (score): the Go CPU engine, or the PyTorch scorer
// worker (torchlaunch.StartScorer) on a chosen device.
type backendFlags struct {
	backend, device, python *string
}

func addBackendFlags(fs *flag.FlagSet) backendFlags {
	return backendFlags{
		backend: fs.String("backend", "go", "engine of the model calls: go (the CPU engine) or torch (a PyTorch worker, scaleout/longrecipe_torch/worker.py)"),
		device:  fs.String("device", "auto", "with --backend torch: cpu, cuda, or auto (cuda where torch sees one)"),
		python:  fs.String("python", "", "with --backend torch: the Python interpreter (default: $LONGRECIPE_PYTHON, else scripts/pyenv.sh's environment)"),
	}
}

// check refuses a bad --backend or --device value (a command-line error).
func (b backendFlags) check() error {
	if *b.backend != "go" && *b.backend != "torch" {
		return usageErrorf("--backend %q: want go or torch", *b.backend)
	}
	switch *b.device {
	case "cpu", "cuda", "auto":
	default:
		return usageErrorf("--device %q: want cpu, cuda or auto", *b.device)
	}
	return nil
}

// torchScorer starts the torch worker for the model folder dir (float32
// weights) and returns it with the model's max_position_embeddings.
func (b backendFlags) torchScorer(ctx context.Context, dir string) (*torchlaunch.Scorer, int, error) {
	cfg, err := hf.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, 0, fmt.Errorf("model %s: %w", dir, err)
	}
	s, err := torchlaunch.StartScorer(ctx, dir, torchlaunch.ScorerOptions{Python: *b.python, Device: *b.device})
	if err != nil {
		return nil, 0, err
	}
	return s, cfg.MaxPositionEmbeddings, nil
}
