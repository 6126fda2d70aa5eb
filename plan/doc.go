// Package plan is the pre-flight planner for training a LongRecipe stage on
// GPUs with the torch backend: before anything is launched it says whether a
// model at a training length fits the GPUs given, with which sharding and
// context-parallel degree, what each GPU holds, how long the stage takes, and
// it refuses settings that would fail after the launch.
//
// # Contract
//
// Make is pure: it reads nothing but its Input and returns a Plan or an error
// naming the bad field ("gpus 0: want >= 1"). Every figure is an estimate in
// bytes per GPU (GiB = 2^30 bytes when printed); the checks that can fail before
// a launch are listed in Plan.Checks, and Plan.OK is false when one failed.
// LoadModel reads a model folder: config.json (required, through package hf)
// and, when present, the safetensors headers for the exact parameter count; a
// folder with only config.json is planned from the config's sizes. WriteLaunch
// writes the launcher settings of a passing plan in the JSON of
// torchlaunch.Launch (the contract of the torch launcher, shown in
// docs/gpu.md), and refuses a plan whose checks failed. EnvChecks
// (on the result of torchlaunch.ProbeEnv) adds checks of the launch machine's Python environment (the
// backend's FSDP2 import, the tested version pins, the visible GPUs);
// CheckServed derives the window vLLM serves a trained folder at.
//
// # What is modelled (the torch backend, scaleout/longrecipe_torch)
//
// The backend keeps the parameters in fp32 (they are the optimizer's master
// weights), computes in bf16 on CUDA (fp32 on CPU) — under fsdp through
// FSDP2's MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32), which
// gathers each unit as bf16 copies (gathered = 2·(root + 2·layer)) and makes
// the residual stream, the checkpoint boundaries and the final norm's input
// bf16 (the 4 bytes below become 2, the layer's weight casts and the
// autocast cache vanish); with ddp and none through autocast — checkpoints
// every decoder layer, computes the LM head and cross-entropy ce_chunk tokens
// at a time (each chunk recomputed in backward), trains one row at a time per
// GPU with AdamW (foreach=False: no full-size temporaries in the step), and
// shards with FSDP2 fully_shard (each decoder layer one unit, the root — token
// embeddings, final norm, LM head — one unit) or replicates with DDP.
// With P parameters, N GPUs and sharding factor F (N for "fsdp", 1 for "ddp" and
// "none"):
//
//	weights    = 4·P/F                 fp32 parameters = master weights
//	gradients  = 4·P/F                 fp32
//	optimizer  = 8·P/F                 AdamW m and v, fp32
//	(the ZeRO paper's 16 bytes per parameter: Rajbhandari et al. 2020, §3)
//	gathered   = 4·(root + 2·layer)    fsdp only: the root unit stays gathered,
//	                                   the current layer and the prefetched next
//	grad unit  = 4·max(root, layer)    fsdp only: one unit's unsharded gradient
//	                                   before its reduce-scatter
//	buckets    = 4·P                   ddp only: DDP's all-reduce buckets hold a
//	                                   copy of the gradients unless
//	                                   gradient_as_bucket_view=True (torch docs)
//
// With cpu_offload (FSDP2 CPUOffloadPolicy) weights, gradients and optimizer
// live in host memory (16·P/N bytes per GPU); the GPU keeps the gathered units.
//
// Activations, for T = Ls/cp tokens on a GPU (cp the context-parallel degree,
// Ls padded up to a multiple of 2·cp),
// hidden size h, intermediate size I, key/value width kv = kv_heads·head_dim,
// n_h heads, d = head_dim, L layers, V vocabulary, c = ce_chunk tokens, and
// e = 2 bytes under bf16 autocast (4 in fp32). The residual stream is fp32 in
// both (parameters are fp32, so autocast leaves the embedding output and every
// residual add in fp32):
//
//	boundary   = L·T·h·4 + 2·T·d·4      each checkpointed layer's input, and the
//	                                    RoPE cos/sin tables every layer reads
//	layer      = T·(e·(4I + 7h + 2kv) + 4·(3h + n_h + 2)) + 2·layer (bf16)
//	             T·4·(4I + 7h + 2kv + n_h + 2)                        (fp32)
//	                                    what one decoder layer saves for its
//	                                    backward when it is recomputed (counted
//	                                    tensor by tensor with saved_tensors_hooks:
//	                                    SwiGLU's four I-wide tensors, the
//	                                    projections' inputs and outputs, RMSNorm's
//	                                    fp32 upcasts, attention's log-sum-exp;
//	                                    under autocast the layer's bf16 weight
//	                                    casts); attention is FlashAttention/SDPA,
//	                                    O(T) memory — no T×T matrix
//	backward   = 3·T·I·e                the gradients alive while that layer's MLP
//	                                    runs backward (fitted on the CPU
//	                                    measurement, see below)
//	loss       = 3·T·h·4 + c·V·(e + 12) the final norm's saved tensors and one
//	                                    chunk's logits, their fp32 copy, the
//	                                    log-softmax output and its gradient
//	cache      = 2·(L·layer + V·h)      bf16 only, when autocast's weight cache
//	                                    is on (torch's default, and the
//	                                    backend's): the bf16 casts of every
//	                                    layer's weights and of the LM head stay
//	                                    cached until the forward's autocast
//	                                    context exits — whatever the sharding
//	forward    = loss − 4·c·V + cache   with the cache on: the forward ends with
//	                                    the loss chunks (no gradient yet) while
//	                                    the cache is still alive
//	ring       = 4·T·(4h + 12·kv + 2·n_h) + 4·2^28     cp > 1 only: the ring
//	                                    attention's float32 saved q, k, v,
//	                                    output and log-sum-exp, dout, dq, dk,
//	                                    dv, the travelling and the received
//	                                    key/value/gradient blocks, and four
//	                                    score tiles of 2^28 bytes (cp.py's
//	                                    SCORE_BYTES) in the backward
//	activations = boundary + max(layer + backward + ring, loss, forward)
//
// The layer phase (backward) and the loss phase never overlap (the loss is done
// before the last layer is recomputed), hence the max. This model was
// checked against torch.distributed._tools.mem_tracker on the CPU
// (TestTorchMemory, testdata/measure_step.py: a tiny Llama through the
// backend's step, each parameter gradient dropped once accumulated so that the
// peak measured is the activations' own, as on an FSDP rank): the parameter,
// gradient and optimizer bytes equal the tensors' sizes exactly, and the
// activation estimate is within −5 % … +20 % of the measured peak, on the safe
// side in every case measured, with the cache on and off. The total adds the
// full gradients to the activation peak although the last layers' gradients
// are not yet computed when the boundaries peak: exact under FSDP (gradients
// are sharded as they come), conservative without sharding. The FSDP2 terms
// were checked on two gloo ranks with FSDPMemTracker (TestFSDPMemory, opt-in
// with LONGRECIPE_PLAN_FSDP=1): sharded states exact, gathered units +9 %
// (the prefetched layer was not gathered at the peak), total +1.6 %.
//
// Headroom: 1 GiB for the CUDA context and NCCL buffers (assumed) plus 10 % of
// the allocated total for the caching allocator's fragmentation (assumed; set
// PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to stay under it). A plan
// fits when the sum is at most the GPU memory given.
//
// # Context parallelism
//
// A row split over cp GPUs (zigzag ring attention, scaleout/longrecipe_torch/
// cp.py) divides T by cp after padding Ls to a multiple of 2·cp. It needs N
// divisible by cp and fsdp sharding (FSDP shards over all N ranks, so the
// states are divided by N whatever cp is); a CP group that spans nodes is
// allowed but warned about (its ring runs over the inter-node network). The
// planner tries cp = 1 first, then each divisor of N in increasing order.
// Each rank sends, per layer and row, the key/value blocks cp−1 times in the
// forward and again in the recomputed forward, and in the backward key/value
// blocks with their float32 gradients cp−1 times plus the gradients once more:
//
//	ring bytes/row = L·T·kv·(4·(cp−1)·e + (cp−1)·(2·e + 8) + 8)
//
// and the plan adds ring bytes/row · rows per rank / link bandwidth to the
// wall-clock as if no transfer overlapped compute: an upper bound, as the
// forward's transfers run while a block is computed (the backward's do not).
// The link bandwidth is --link-gbps, default 100 GB/s per GPU and direction
// (assumed, NVLink class). The ring's block kernels are plain matmuls, not a fused
// attention kernel; their speed on GPUs is not measured, so an assumed MFU is
// optimistic for cp > 1 until a run's tokens/s is given.
//
// # Time
//
// Model FLOPs per trained token (PaLM, Chowdhery et al. 2022, app. B, with
// causal attention halving the attention term):
//
//	flops/token = 6·P_matmul + 6·L·n_h·d·Ls
//
// where P_matmul excludes the input embedding table (a lookup, no FLOPs) unless
// it is tied to the LM head. Recomputation adds a forward pass of hardware
// FLOPs that MFU does not count (PaLM's convention). Throughput is the measured
// tokens/s of the whole job when given (metrics.jsonl's tokens_per_s), else
// N·peak·MFU/(flops/token) with the GPU's dense bf16 peak and an assumed MFU
// (default 0.35); the plan says which. Wall-clock = steps·global_batch·Ls /
// throughput, optimizer steps and checkpoints not included.
package plan
