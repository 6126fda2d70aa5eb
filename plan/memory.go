package plan

import "math"

// Memory is the estimate for one GPU, in bytes; the formulas are in the
// package doc.
type Memory struct {
	Weights   int64 `json:"weights"`
	Grads     int64 `json:"gradients"`
	Optimizer int64 `json:"optimizer"`
	Gathered  int64 `json:"fsdp_gathered"`
	GradUnit  int64 `json:"fsdp_grad_unit"`
	// Buckets is DDP's copy of the gradients in its all-reduce buckets
	// (gradient_as_bucket_view=False, torch's default and the backend's).
	Buckets int64 `json:"ddp_buckets"`

	Boundary int64 `json:"act_boundary"`
	Layer    int64 `json:"act_layer_recompute"`
	Backward int64 `json:"act_layer_backward"`
	Loss     int64 `json:"act_loss_chunk"`
	// Cache is autocast's cache of bf16 weight casts, alive through the
	// forward pass (0 when the cache is off or in fp32).
	Cache int64 `json:"act_autocast_cache"`
	// Ring is the ring attention's working set in one layer's backward
	// (cp > 1 only).
	Ring int64 `json:"act_ring_attention"`
	// Activations is Boundary + max(Layer + Backward + Ring, Loss, forward) with
	// forward = Loss − 4·c·V + Cache when the cache is on (package doc).
	Activations int64 `json:"activations"`

	Headroom int64 `json:"headroom"`
	Total    int64 `json:"total"`
	// States is what cpu_offload moves to host memory (0 on the GPU then).
	OffloadedStates int64 `json:"offloaded_states"`
}

// layout is one way to run: sharding, offload and the context-parallel
// degree.
type layout struct {
	sharding string
	offload  bool
	sp       int
}

// shape holds the sizes the formulas use.
type shape struct {
	params, layer, root     int64
	L, h, I, kv, heads, d   int64
	V                       int64
	tokens, chunk, actBytes int64
	cache                   bool // autocast's weight cache is on
	// mp: bf16 under fsdp, FSDP2's MixedPrecisionPolicy: bf16 gathered
	// weights and a bf16 residual stream, no autocast (so no cache).
	mp bool
}

func shapeOf(m Model, tokens, chunk int, precision string, cache bool) shape {
	c := m.Config
	e := int64(2)
	if precision == "fp32" {
		e = 4
	}
	return shape{
		params: m.Params, layer: layerParams(c), root: rootParams(c),
		L: int64(c.NumHiddenLayers), h: int64(c.HiddenSize), I: int64(c.IntermediateSize),
		kv: int64(c.NumKeyValueHeads) * int64(c.HeadDim), heads: int64(c.NumAttentionHeads), d: int64(c.HeadDim),
		V: int64(c.VocabSize), tokens: int64(tokens), chunk: int64(min(chunk, tokens)), actBytes: e,
		cache: cache && e == 2,
	}
}

// estimate returns the per-GPU memory of layout l on gpus GPUs.
func estimate(s shape, l layout, gpus int) Memory {
	var m Memory
	if s.mp = l.sharding == "fsdp" && s.actBytes == 2; s.mp {
		s.cache = false
	}
	f := int64(1)
	if l.sharding == "fsdp" {
		f = int64(gpus)
	}
	states := Memory{Weights: ceilDiv(4*s.params, f), Grads: ceilDiv(4*s.params, f), Optimizer: ceilDiv(8*s.params, f)}
	if l.offload {
		m.OffloadedStates = states.Weights + states.Grads + states.Optimizer
	} else {
		m.Weights, m.Grads, m.Optimizer = states.Weights, states.Grads, states.Optimizer
	}
	if l.sharding == "fsdp" {
		m.Gathered = 4 * (s.root + 2*s.layer)
		m.GradUnit = 4 * max(s.root, s.layer)
		if s.mp { // bf16 copies gathered; the unit's gradient is reduced in fp32
			m.Gathered = 2 * (s.root + 2*s.layer)
		}
	}
	if l.sharding == "ddp" {
		m.Buckets = 4 * s.params
	}
	if l.sp > 1 {
		m.Ring = 4*s.tokens*(4*s.h+12*s.kv+2*s.heads) + 4*ringScoreBytes
	}
	activations(&m, s)
	allocated := m.Weights + m.Grads + m.Optimizer + m.Gathered + m.GradUnit + m.Buckets + m.Activations
	m.Headroom = int64(ContextGiB*(1<<30)) + int64(math.Ceil(Fragmentation*float64(allocated)))
	m.Total = allocated + m.Headroom
	return m
}

// activations fills the activation terms of m for s.tokens tokens per GPU
// (m.Ring already set).
func activations(m *Memory, s shape) {
	T, e := s.tokens, s.actBytes
	r := int64(4) // the residual stream's bytes: fp32 unless the parameters themselves are bf16 (mp)
	if s.mp {
		r = 2
	}
	m.Boundary = s.L*T*s.h*r + 2*T*s.d*r
	switch {
	case e == 4:
		m.Layer = T * 4 * (4*s.I + 7*s.h + 2*s.kv + s.heads + 2)
	case s.mp: // the layer's weights are the gathered bf16 ones: no casts saved
		m.Layer = T * (e*(4*s.I+7*s.h+2*s.kv) + 4*(3*s.h+s.heads+2))
	default:
		m.Layer = T*(e*(4*s.I+7*s.h+2*s.kv)+4*(3*s.h+s.heads+2)) + 2*s.layer
	}
	m.Backward = 3 * T * s.I * e
	m.Loss = 3*T*s.h*r + s.chunk*s.V*(e+12)
	m.Cache = 0
	if s.cache {
		m.Cache = 2 * (s.L*s.layer + s.V*s.h)
	}
	forward := m.Loss // the forward ends with the loss, before any gradient
	if s.cache {
		forward = m.Loss - 4*s.chunk*s.V + m.Cache
	}
	m.Activations = m.Boundary + max(m.Layer+m.Backward+m.Ring, m.Loss, forward)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// ringScoreBytes is cp.py's SCORE_BYTES: one tile of float32 scores.
const ringScoreBytes = 1 << 28

// cpTokens is the tokens one rank holds of an ls-token row split over cp:
// the row padded to a multiple of 2·cp, divided by cp.
func cpTokens(ls, cp int) int {
	m := 2 * cp
	if cp == 1 {
		return ls
	}
	return max(m, (ls+m-1)/m*m) / cp
}
