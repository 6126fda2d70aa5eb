package model

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/longrecipe/longrecipe/hf"
)

// Model is a Llama-family decoder (llama, mistral, qwen2) with fp32 master
// weights and gradient accumulators. Its methods are safe for concurrent
// use but run one at a time: they share scratch buffers that are reused
// across calls, so that a training loop does not allocate per step.
type Model struct {
	// Cfg is the architecture; it must not change after New or Load.
	Cfg *hf.Config

	params []*Param
	byName map[string]*Param
	embed  *Param
	layers []layerParams
	norm   *Param
	lmHead *Param // == embed when the embeddings are tied

	dims dims
	prec Precision // of the matrix multiplies (see SetPrecision)

	mu      sync.Mutex
	ws      workspace
	stop    func() bool // see SetStop
	threads int         // of inference passes (0: GOMAXPROCS); see Fork
}

// Fork returns a model that shares m's weights but not its scratch space,
// so that the two can run inference passes at the same time (an
// evaluation answering several prompts at once). Its inference passes use
// threads goroutines (0: GOMAXPROCS; 1: none besides the caller's). The
// weights must not change while either runs: train neither.
func (m *Model) Fork(threads int) *Model {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &Model{Cfg: m.Cfg, params: m.params, byName: m.byName, embed: m.embed, layers: m.layers,
		norm: m.norm, lmHead: m.lmHead, dims: m.dims, prec: m.prec, stop: m.stop, threads: threads}
}

// inferThreads is the number of goroutines of an inference pass.
func (m *Model) inferThreads() int {
	if m.threads > 0 {
		return m.threads
	}
	return runtime.GOMAXPROCS(0)
}

// SetStop makes the inference passes (LogProbs, Prefill, Decode, Generate
// and the scoring built on them) ask stop between layers whether to end:
// a long prompt then stops within one layer's time of, say, Ctrl-C
// instead of at the end of the pass. A stopped pass returns ErrStopped and
// leaves any KVCache it was filling unusable. nil (the default) never
// stops. Training passes take their own Options.Stop.
func (m *Model) SetStop(stop func() bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stop = stop
}

// layerParams are one decoder layer's tensors; the biases are nil unless
// the config sets attention_bias (qwen2).
type layerParams struct {
	inNorm, q, qb, k, kb, v, vb, o, postNorm, gate, up, down *Param
	gateb, upb, downb                                        *Param // mlp_bias only
	window                                                   int    // sliding window of this layer, 0 = none
}

// dims are the derived sizes of the architecture.
type dims struct {
	V, D, FF, L  int     // vocab, hidden, intermediate, layers
	H, KV, HD    int     // query heads, key/value heads, head dimension
	QD, KVD      int     // H·HD and KV·HD
	eps          float32 // RMSNorm epsilon
	window       int     // sliding window in tokens, 0 = none
	windowFrom   int     // first layer that uses the window (qwen2's max_window_layers)
	tied         bool
	attnBias     bool
	mlpBias      bool
	invFreq      []float64 // RoPE inverse frequencies before dynamic scaling
	ropeMscale   float64   // YaRN attention factor applied to cos and sin
	dynamicNTK   bool
	dynFactor    float64
	dynOrigLen   int
	ropeThetaRaw float64
}

// checkConfig validates cfg and derives the sizes the model needs.
func checkConfig(cfg *hf.Config) (dims, error) {
	var d dims
	if cfg == nil {
		return d, fmt.Errorf("model: nil config")
	}
	switch cfg.ModelType {
	case "llama", "mistral", "qwen2", "":
	default:
		return d, fmt.Errorf("model: model_type %q is not supported (want llama, mistral or qwen2)", cfg.ModelType)
	}
	switch cfg.HiddenAct {
	case "silu", "swish":
	default:
		return d, fmt.Errorf("model: hidden_act %q is not supported (want silu)", cfg.HiddenAct)
	}
	d.V, d.D, d.FF, d.L = cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers
	d.H, d.KV, d.HD = cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim
	if d.V <= 0 || d.D <= 0 || d.FF <= 0 || d.L <= 0 || d.H <= 0 {
		return d, fmt.Errorf("model: config needs positive vocab_size, hidden_size, intermediate_size, num_hidden_layers and num_attention_heads (got %d, %d, %d, %d, %d)", d.V, d.D, d.FF, d.L, d.H)
	}
	if d.KV == 0 {
		d.KV = d.H
	}
	if d.KV < 0 || d.H%d.KV != 0 {
		return d, fmt.Errorf("model: num_attention_heads %d is not a multiple of num_key_value_heads %d", d.H, d.KV)
	}
	if d.HD == 0 {
		if d.D%d.H != 0 {
			return d, fmt.Errorf("model: hidden_size %d is not a multiple of num_attention_heads %d and head_dim is not set", d.D, d.H)
		}
		d.HD = d.D / d.H
	}
	if d.HD <= 0 || d.HD%2 != 0 {
		return d, fmt.Errorf("model: head_dim %d must be positive and even for RoPE", d.HD)
	}
	d.QD, d.KVD = d.H*d.HD, d.KV*d.HD
	if !(cfg.RMSNormEps > 0) {
		return d, fmt.Errorf("model: rms_norm_eps %v must be positive", cfg.RMSNormEps)
	}
	d.eps = float32(cfg.RMSNormEps)
	if cfg.SlidingWindow < 0 {
		return d, fmt.Errorf("model: sliding_window %d is negative", cfg.SlidingWindow)
	}
	d.window = cfg.SlidingWindow
	if cfg.MaxWindowLayers < 0 {
		return d, fmt.Errorf("model: max_window_layers %d is negative", cfg.MaxWindowLayers)
	}
	d.windowFrom = cfg.MaxWindowLayers
	d.mlpBias = cfg.MLPBias
	d.tied = cfg.TieWordEmbeddings
	d.attnBias = cfg.AttentionBias
	if err := d.initRope(cfg); err != nil {
		return d, err
	}
	return d, nil
}

// New returns a randomly initialised model, as transformers initialises a
// fresh LlamaForCausalLM: every matrix (embeddings included) from
// N(0, initializer_range²), RMSNorm weights 1, biases 0. The weights are a
// deterministic function of cfg and seed.
func New(cfg *hf.Config, seed int64) (*Model, error) {
	m, err := newEmpty(cfg)
	if err != nil {
		return nil, err
	}
	std := cfg.InitializerRange
	if !(std > 0) {
		return nil, fmt.Errorf("model: initializer_range %v must be positive", std)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6c6f6e6772656369))
	for _, p := range m.params {
		if len(p.Shape) == 2 {
			for i := range p.W {
				p.W[i] = float32(rng.NormFloat64() * std)
			}
		}
	}
	norms := []*Param{m.norm}
	for _, lp := range m.layers {
		norms = append(norms, lp.inNorm, lp.postNorm)
	}
	for _, p := range norms {
		for i := range p.W {
			p.W[i] = 1
		}
	}
	return m, nil
}

// newEmpty allocates a zero model for cfg.
func newEmpty(cfg *hf.Config) (*Model, error) {
	d, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckMemory(4); err != nil { // before any allocation of cfg's size
		return nil, fmt.Errorf("model: %w", err)
	}
	m := &Model{Cfg: cfg, dims: d, byName: map[string]*Param{}}
	add := func(name string, shape ...int) *Param {
		n := 1
		for _, s := range shape {
			n *= s
		}
		p := &Param{Name: name, Shape: shape, W: make([]float32, n), G: make([]float32, n)}
		m.params = append(m.params, p)
		m.byName[name] = p
		return p
	}
	m.embed = add("model.embed_tokens.weight", d.V, d.D)
	m.layers = make([]layerParams, d.L)
	for l := range m.layers {
		pre := fmt.Sprintf("model.layers.%d.", l)
		lp := &m.layers[l]
		lp.inNorm = add(pre+"input_layernorm.weight", d.D)
		lp.q = add(pre+"self_attn.q_proj.weight", d.QD, d.D)
		if d.attnBias {
			lp.qb = add(pre+"self_attn.q_proj.bias", d.QD)
		}
		lp.k = add(pre+"self_attn.k_proj.weight", d.KVD, d.D)
		if d.attnBias {
			lp.kb = add(pre+"self_attn.k_proj.bias", d.KVD)
		}
		lp.v = add(pre+"self_attn.v_proj.weight", d.KVD, d.D)
		if d.attnBias {
			lp.vb = add(pre+"self_attn.v_proj.bias", d.KVD)
		}
		lp.o = add(pre+"self_attn.o_proj.weight", d.D, d.QD)
		lp.postNorm = add(pre+"post_attention_layernorm.weight", d.D)
		lp.gate = add(pre+"mlp.gate_proj.weight", d.FF, d.D)
		if d.mlpBias {
			lp.gateb = add(pre+"mlp.gate_proj.bias", d.FF)
		}
		lp.up = add(pre+"mlp.up_proj.weight", d.FF, d.D)
		if d.mlpBias {
			lp.upb = add(pre+"mlp.up_proj.bias", d.FF)
		}
		lp.down = add(pre+"mlp.down_proj.weight", d.D, d.FF)
		if d.mlpBias {
			lp.downb = add(pre+"mlp.down_proj.bias", d.D)
		}
		if l >= d.windowFrom {
			lp.window = d.window
		}
	}
	m.norm = add("model.norm.weight", d.D)
	if d.tied {
		m.lmHead = m.embed
	} else {
		m.lmHead = add("lm_head.weight", d.V, d.D)
	}
	return m, nil
}

// Params returns the trainable tensors in checkpoint order (embeddings,
// layers, final norm, lm_head unless tied). The slice and the tensors are
// the model's own: an optimizer updates W in place.
func (m *Model) Params() []*Param { return m.params }

// Param returns the tensor with the given Hugging Face name, or nil.
func (m *Model) Param(name string) *Param { return m.byName[name] }

// ZeroGrad sets every gradient accumulator to zero.
func (m *Model) ZeroGrad() {
	for _, p := range m.params {
		clear(p.G)
	}
}

// NumParams returns the number of trainable scalars (tied embeddings
// counted once).
func (m *Model) NumParams() int64 {
	var n int64
	for _, p := range m.params {
		n += int64(len(p.W))
	}
	return n
}

// FLOPsPerToken returns the floating-point operations of one training
// token (forward and backward) in a sequence of T tokens: 6 per weight of
// every matrix multiply (the layers' projections and the LM head, not the
// embedding lookup) plus 6·T·H·HD per layer for causal attention (QKᵀ and
// PV, forward and backward, halved by the causal mask). Recomputation
// (checkpointing, the attention backward) is not counted, as in MFU.
func (m *Model) FLOPsPerToken(T int) float64 {
	d := m.dims
	perLayer := 2*d.QD*d.D + 2*d.KVD*d.D + 3*d.FF*d.D
	matmul := float64(d.L*perLayer + d.V*d.D)
	attn := 6.0 * float64(T) * float64(d.QD) * float64(d.L)
	return 6*matmul + attn
}
