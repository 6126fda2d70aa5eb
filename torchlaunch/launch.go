package torchlaunch

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/longrecipe/longrecipe/internal/paths"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
	// ContextParallel is how many ranks share one row (zigzag ring
	// attention, scaleout/longrecipe_torch/cp.py); default 1. It must
	// divide the world size and needs fsdp sharding: world = dp · cp, FSDP
	// shards over all ranks, CP groups are runs of consecutive ranks.
	ContextParallel int `json:"context_parallel,omitempty"`
	// CPUOffload keeps parameters, gradients and optimizer state on the
	// CPU (FSDP2 CPUOffloadPolicy).
	CPUOffload bool `json:"cpu_offload,omitempty"`
	// CollectiveTimeoutS bounds every collective (init_process_group's
	// timeout): a rank that stops answering fails the others after it
	// instead of hanging them; default 1800.
	CollectiveTimeoutS int `json:"collective_timeout_s,omitempty"`
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
	if l.CollectiveTimeoutS == 0 {
		l.CollectiveTimeoutS = 1800
	}
	if l.ContextParallel == 0 {
		l.ContextParallel = 1
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
	case l.CPUOffload && l.Sharding != "fsdp":
		return fmt.Errorf("cpu_offload needs sharding fsdp (FSDP2 CPUOffloadPolicy), not %s", l.Sharding)
	case l.CollectiveTimeoutS < 0:
		return fmt.Errorf("collective_timeout_s %d: want > 0 (0 takes the default, 1800)", l.CollectiveTimeoutS)
	case l.CEChunkTokens < 1:
		return fmt.Errorf("ce_chunk_tokens %d must be >= 1", l.CEChunkTokens)
	}
	return l.validateCP()
}

// validateCP checks the context-parallel degree against the world size and
// the sharding (rows are padded to a multiple of 2·cp by the ranks, so every
// row length splits).
func (l Launch) validateCP() error {
	switch cp := l.ContextParallel; {
	case cp < 1:
		return fmt.Errorf("context_parallel %d must be >= 1", cp)
	case cp > 1 && l.Sharding != "fsdp":
		return fmt.Errorf("context_parallel %d needs sharding fsdp, not %s (context parallelism is combined with FSDP only)", cp, l.Sharding)
	case l.World()%cp != 0:
		return fmt.Errorf("context_parallel %d does not divide the world size %d (nproc_per_node %d x nnodes %d)", cp, l.World(), l.NprocPerNode, l.NNodes)
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
	if bytes.Contains(b, []byte(`"sequence_parallel"`)) {
		return l, fmt.Errorf("launch config %s: key sequence_parallel was replaced by context_parallel", path)
	}
	if err := dec.Decode(&l); err != nil {
		return l, fmt.Errorf("launch config %s: %w", path, err)
	}
	if err := l.Validate(); err != nil {
		return l, fmt.Errorf("launch config %s: %w", path, err)
	}
	return l.WithDefaults(), nil
}

// localDevices returns the GPUs this host shows the ranks (0 when none,
// or when LONGRECIPE_CPU=1 keeps the ranks on the CPU) and its CPU cores.
// A variable so that tests can pretend another host.
var localDevices = func() (gpus, cores int) {
	cores = runtime.NumCPU()
	if os.Getenv("LONGRECIPE_CPU") == "1" {
		return 0, cores
	}
	if v, ok := os.LookupEnv("CUDA_VISIBLE_DEVICES"); ok {
		n := 0
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" && f != "-1" {
				n++
			}
		}
		if n == 0 {
			return 0, cores
		}
		gpus = n
	}
	devs, _ := filepath.Glob("/dev/nvidia[0-9]*")
	if gpus == 0 || len(devs) < gpus {
		gpus = len(devs)
	}
	return gpus, cores
}

// CPURanksPerCore bounds the gloo ranks per CPU core on a host without GPUs.
const CPURanksPerCore = 2

// CheckDevices refuses more processes per node than this host has devices:
// one rank per GPU, or on a host without GPUs at most CPURanksPerCore ranks
// per CPU core (gloo ranks may share a core, as the CPU tests of a 2 × 2
// context-parallel layout do on two cores, but not without bound). It runs before
// any process starts (a launch file asking for 100000 ranks must not fork
// them).
func CheckDevices(l Launch) error {
	l = l.WithDefaults()
	gpus, cores := localDevices()
	switch {
	case gpus > 0 && l.NprocPerNode > gpus:
		return fmt.Errorf("nproc_per_node %d: this host has %d GPU(s); one rank per GPU at most", l.NprocPerNode, gpus)
	case gpus == 0 && l.NprocPerNode > CPURanksPerCore*cores:
		return fmt.Errorf("nproc_per_node %d: this host has no GPU and %d CPU cores; %d ranks per core at most", l.NprocPerNode, cores, CPURanksPerCore)
	}
	return nil
}
