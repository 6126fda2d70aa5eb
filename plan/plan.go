package plan

// Input is what a plan is made from. Zero values of optional fields take the
// defaults named.
type Input struct {
	Model Model

	TargetLength int     // Lt, > the model's window normally
	Ratio        float64 // Ls = round(Ratio·Lt) when TrainLength is 0; (0, 1]
	TrainLength  int     // Ls given directly (overrides Ratio)

	GPUs      int     // GPUs in all, >= 1
	Nodes     int     // default 1; GPUs must divide evenly
	GPUMemGiB float64 // memory of one GPU

	Precision string // "bf16" (default: autocast over fp32 parameters) or "fp32"
	Sharding  string // "" (choose), "none", "ddp" or "fsdp"
	Offload   *bool  // nil: choose; else force cpu_offload on or off
	CP        int    // 0: choose; else the context-parallel degree
	CEChunk   int    // tokens per cross-entropy chunk (default 4096)

	Steps       int // optimizer steps (default 104, the paper's stage 1)
	GlobalBatch int // rows per optimizer step over all GPUs = batch·grad_accum (default 96)

	TokensPerSec float64 // measured throughput of the whole job; 0: assume
	// MeasuredFrom says where TokensPerSec was measured (shown with it).
	MeasuredFrom string
	PeakTFLOPS   float64 // dense bf16 peak of one GPU (default 312, A100)
	LinkGBps     float64 // GPU-to-GPU bandwidth per direction for the CP ring (default 100)
	MFU          float64 // assumed model FLOPs utilisation (default 0.35)
	HostMemGiB   float64 // host memory per node; 0: not checked

	// AutocastCache says whether autocast caches bf16 weight casts (nil:
	// BackendAutocastCache, what the torch backend does).
	AutocastCache *bool
}

// BackendAutocastCache is whether the torch backend runs autocast with its
// weight cache on (scaleout/longrecipe_torch/trainer.py: torch.autocast with
// the default cache_enabled=True).
const BackendAutocastCache = true

func cacheOn(in Input) bool {
	if in.AutocastCache != nil {
		return *in.AutocastCache
	}
	return BackendAutocastCache
}

// Defaults of Input's optional fields.
const (
	DefaultCEChunk     = 4096
	DefaultSteps       = 104
	DefaultGlobalBatch = 96
	DefaultPeakTFLOPS  = 312
	DefaultMFU         = 0.35
	DefaultLinkGBps    = 100
	// ContextGiB is reserved on every GPU for the CUDA context and NCCL.
	ContextGiB = 1.0
	// Fragmentation is the share of the allocated bytes added for the
	// caching allocator.
	Fragmentation = 0.10
)

// Plan is the planner's answer.
type Plan struct {
	Model        string  `json:"model"`
	Parameters   int64   `json:"parameters"`
	ParamSource  string  `json:"parameters_from"`
	TargetLength int     `json:"target_length"`
	TrainLength  int     `json:"train_length"`
	GPUs         int     `json:"gpus"`
	Nodes        int     `json:"nodes"`
	GPUMemGiB    float64 `json:"gpu_memory_gib"`
	Precision    string  `json:"precision"`
	CEChunk      int     `json:"ce_chunk_tokens"`

	Sharding string `json:"sharding"`
	Offload  bool   `json:"cpu_offload"`
	CP       int    `json:"context_parallel"`
	// DataParallel is GPUs/CP: rows trained at once. RowsPerGPU is
	// the forward/backward passes of each rank per optimizer step: the
	// step's GlobalBatch rows (the recipe's batch·grad_accum, whatever the
	// GPU count) dealt round-robin over the ranks.
	DataParallel int `json:"data_parallel"`
	RowsPerGPU   int `json:"rows_per_gpu_per_step"`

	Memory Memory `json:"memory_per_gpu"`
	// HostBytes is the host memory one node needs beyond the OS: the
	// offloaded states, or, at load, every rank's fp32 copy of the model.
	HostBytes int64 `json:"host_bytes_per_node"`

	Time   Time    `json:"time"`
	Checks []Check `json:"checks"`
	OK     bool    `json:"ok"`
	// Notes are what the planner chose and why, in words.
	Notes []string `json:"notes,omitempty"`
}

// Check is one pre-flight check.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Warn marks an advisory check: it does not make the plan fail.
	Warn   bool   `json:"warn,omitempty"`
	Detail string `json:"detail"`
}
