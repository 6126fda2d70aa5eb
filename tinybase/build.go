package tinybase

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/stage"
	"github.com/longrecipe/longrecipe/steps"
	"github.com/longrecipe/longrecipe/tokenizer"
	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

// Options describe the tiny base model and its pretraining.
type Options struct {
	// Output is the build folder: data/, init/, train/ (checkpoints and
	// the final model folder) and build.json.
	Output string
	// Window is the pretraining context length (max_position_embeddings).
	Window int
	// Architecture.
	Hidden, Layers, Heads, KVHeads, Intermediate int
	RopeTheta                                    float64
	// Phase 1 (pretraining).
	Steps, Batch, GradAccum, Warmup int
	LR, MinLR                       float64
	// SyntheticFraction of all phase-1 rows are pass-key and key–value
	// documents inside the window.
	SyntheticFraction float64
	// Phase 2 (retrieval curriculum): RetrievalSteps more steps on rows
	// that are half corpus, half synthetic (copy documents, pass keys,
	// key–value needles), cosine RetrievalLR → MinLR.
	RetrievalSteps int
	RetrievalLR    float64
	// Phase 3 (copy): CopySteps steps on random-token copy rows (CopyRow)
	// of CopyWindow tokens, segments of CopySegMin … CopySegMax tokens
	// drawn from the corpus's unigram distribution, the loss on the
	// second copies only, at a constant CopyLR after a short warm-up.
	CopySteps, CopyWindow, CopySegMin, CopySegMax int
	CopyLR                                        float64
	// Phase 4 (consolidation): FinalSteps steps on corpus rows with
	// FinalSynthetic of synthetic rows (random-token copy rows, copy
	// documents, pass keys, key–value needles), cosine FinalLR → MinLR:
	// it brings back the prose the copy phase disturbs while keeping the
	// skill, and stretches the copy distance to the whole window.
	FinalSteps     int
	FinalLR        float64
	FinalSynthetic float64
	// Phase2Model, when set, is used as the phase-2 model instead of
	// running phases 1 and 2 (e.g. a copy of the previous shipped model,
	// which is what those phases produce).
	Phase2Model     string
	Seed            int64
	Threads         int
	CheckpointEvery int
	SaveDType       string
	Progress, Log   io.Writer `json:"-"`
}

// DefaultOptions is the shipped model's recipe: a 4-layer Llama, d = 256,
// 4 heads (2 KV heads), window 256, pretrained on the embedded corpus's
// training split (90 % of the addresses) plus 25 % synthetic retrieval
// rows, then the retrieval, copy and consolidation phases.
func DefaultOptions() Options {
	return Options{
		Window: 256, Hidden: 256, Layers: 4, Heads: 4, KVHeads: 2, Intermediate: 768, RopeTheta: 10000,
		Steps: 1000, Batch: 16, GradAccum: 1, Warmup: 60, LR: 2e-3, MinLR: 1e-4,
		SyntheticFraction: 0.25, RetrievalSteps: 500, RetrievalLR: 1e-3,
		CopySteps: 1000, CopyWindow: 64, CopySegMin: 4, CopySegMax: 16, CopyLR: 1e-3,
		FinalSteps: 800, FinalLR: 1e-3, FinalSynthetic: 0.25,
		Seed: 2027, CheckpointEvery: 100, SaveDType: "bfloat16",
	}
}

// Config returns the model's config.json for a vocabulary of vocab tokens.
func Config(o Options, vocab int, bos, eos int32) (*hf.Config, error) {
	raw := map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"vocab_size":              vocab,
		"hidden_size":             o.Hidden,
		"intermediate_size":       o.Intermediate,
		"num_hidden_layers":       o.Layers,
		"num_attention_heads":     o.Heads,
		"num_key_value_heads":     o.KVHeads,
		"head_dim":                o.Hidden / o.Heads,
		"hidden_act":              "silu",
		"max_position_embeddings": o.Window,
		"rms_norm_eps":            1e-5,
		"rope_theta":              o.RopeTheta,
		"rope_scaling":            nil,
		"tie_word_embeddings":     true,
		"attention_bias":          false,
		"mlp_bias":                false,
		"initializer_range":       0.02,
		"bos_token_id":            bos,
		"eos_token_id":            eos,
		"torch_dtype":             "float32",
		"use_cache":               true,
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return hf.ParseConfig(b, "tinybase config")
}

// BuildInfo is build.json: how the model was made and how it ended.
type BuildInfo struct {
	Options   Options `json:"options"`
	Corpus    string  `json:"corpus"`
	Rows      int     `json:"rows"`
	Synthetic int     `json:"synthetic_rows"`
	Tokens    int64   `json:"tokens_per_epoch"`
	Params    int64   `json:"params"`
	Steps     int     `json:"steps"`
	LastLoss  float64 `json:"last_loss"`
	Seconds   float64 `json:"train_seconds"`
	ModelDir  string  `json:"model_dir"`
}

// Build runs the build as stages of the shared runner (package stage):
// the rows of every phase (Output/data, data-retrieval, data-copy,
// data-final), the initial model (Output/init), then the training phases
// in order (Output/train, train-retrieval, train-copy, train-final). A
// rerun skips what is done, resumes an interrupted phase, and redoes a
// phase whose settings, or whose input data or model, changed. The final
// model folder (config, safetensors, tokenizer.json) is the last phase
// run, BuildInfo.ModelDir. Output/data-manifest.json (DataManifest)
// records the generator version and a digest of the rows each phase
// trained on, read back from the data folders.
func Build(ctx context.Context, o Options) (*BuildInfo, error) {
	if o.Output == "" {
		return nil, fmt.Errorf("tinybase: no output folder")
	}
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	if err := b.data(ctx); err != nil {
		return nil, err
	}
	if err := b.initModel(ctx); err != nil {
		return nil, err
	}
	for _, p := range b.phases() {
		if err := b.train(ctx, p); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// builder carries what the build's stages share.
type builder struct {
	o       Options
	tokJSON []byte
	tok     *tokenizer.Tokenizer
	bos     int32
	eos     int32
	texts   []string // the corpus's training split
	runner  *stage.Runner
	info    *BuildInfo
	// ids and src are the tokenized corpus and the synthetic rows'
	// sources, computed by the first data stage that runs.
	ids    [][]int32
	corpus []shards.Row
	src    *Sources
}

func newBuilder(o Options) (*builder, error) {
	b := &builder{o: o, tokJSON: assets.TokenizerJSON(), runner: &stage.Runner{Log: o.Log, Prefix: "tinybase: "},
		info: &BuildInfo{Options: o, Corpus: assets.CorpusName}}
	var err error
	if b.tok, err = tokenizer.Parse(b.tokJSON, "assets/tokenizer.json"); err != nil {
		return nil, err
	}
	var okB, okE bool
	b.bos, okB = b.tok.BOS()
	b.eos, okE = b.tok.EOS()
	if !okB || !okE {
		return nil, fmt.Errorf("tinybase: the embedded tokenizer has no BOS/EOS")
	}
	docs, err := assets.Corpus()
	if err != nil {
		return nil, err
	}
	trainDocs, _, err := assets.Split(docs, assets.DefaultHeldOutPercent)
	if err != nil {
		return nil, err
	}
	b.texts = make([]string, len(trainDocs))
	for i, d := range trainDocs {
		b.texts[i] = d.Text
	}
	return b, nil
}

// sources tokenizes the corpus once, for the data stages that run.
func (b *builder) sources() *Sources {
	if b.src != nil {
		return b.src
	}
	b.ids = b.tok.EncodeBatch(b.texts, true)
	b.corpus = ChunkRows(b.ids, b.o.Window)
	// The token pool of the copy rows: the corpus's tokens, so that draws
	// follow their unigram distribution (the words the model will have to
	// copy, numbers included, are the frequent ones).
	var pool []int32
	for _, d := range b.ids {
		for _, id := range d {
			if id != b.bos && id != b.eos {
				pool = append(pool, id)
			}
		}
	}
	words := make([][]string, len(b.texts))
	for i, t := range b.texts {
		words[i] = strings.Fields(t)
	}
	b.src = &Sources{Tok: b.tok, Texts: words, Pool: pool, BOS: b.bos}
	return b.src
}

// dataStage is one phase's rows.
type dataStage struct {
	name, dir, what string
	settings        map[string]any
	// seed is the seed of the rows' random draws (recorded in the data
	// manifest).
	seed uint64
	rows func() ([]shards.Row, error)
}

// dataStages lists the data stages of every phase, in order. Their rows
// need b.sources().
func (b *builder) dataStages() []dataStage {
	o := b.o
	common := map[string]any{"corpus": assets.CorpusName, "corpus_sha256": sha(b.texts), "tokenizer": b.tok.Hash(),
		"window": o.Window, "seed": o.Seed, "batch": o.Batch, "grad_accum": o.GradAccum}
	with := func(kv ...any) map[string]any {
		m := maps.Clone(common)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	seed := uint64(o.Seed)
	return []dataStage{
		{"data", "data", "synthetic retrieval rows", with("synthetic_fraction", o.SyntheticFraction), seed, func() ([]shards.Row, error) {
			return Mix(b.corpus, *b.src, o.Window, o.SyntheticFraction, []int{KindPasskey, KindKeyValue}, seed)
		}},
		{"data-retrieval", "data-retrieval", "copy, passkey and key-value rows", with("steps", o.RetrievalSteps), seed + 1, func() ([]shards.Row, error) {
			return b.part(o.RetrievalSteps, 0.5, []int{KindCopyText, KindPasskey, KindCopyText, KindKeyValue}, seed+1)
		}},
		{"data-copy", "data-copy", "random-token copy rows (corpus unigram distribution)",
			with("steps", o.CopySteps, "copy_window", o.CopyWindow, "segments", []int{o.CopySegMin, o.CopySegMax}), seed, b.copyRows},
		{"data-final", "data-final", "random-token copy, copy, passkey and key-value rows", with("steps", o.FinalSteps, "synthetic_fraction", o.FinalSynthetic), seed + 3, func() ([]shards.Row, error) {
			return b.part(o.FinalSteps, o.FinalSynthetic, []int{KindCopyRand, KindPasskey, KindCopyText, KindKeyValue}, seed+3)
		}},
	}
}

// data writes the rows of every phase, each a stage of its own.
func (b *builder) data(ctx context.Context) error {
	o := b.o
	for _, d := range b.dataStages() {
		var counts shards.Counts
		if _, err := b.runner.Run(ctx, stage.Stage{Name: d.name, Dir: filepath.Join(o.Output, d.dir), Settings: d.settings,
			Run: func(_ context.Context, dir string) (any, error) {
				b.sources()
				rows, err := d.rows()
				if err != nil {
					return nil, err
				}
				return writeRows(dir, rows, o, b.tok.Hash(), d.what)
			}}, &counts); err != nil {
			return err
		}
		if d.name == "data" {
			b.info.Rows, b.info.Tokens = int(counts.Rows), counts.Tokens
			b.info.Synthetic = int(float64(b.info.Rows) * o.SyntheticFraction)
		}
	}
	return nil
}

// part returns an evenly spaced subset of the corpus plus synthetic rows
// (a fraction of the whole), for steps steps (phases 2 and 4).
func (b *builder) part(steps int, fraction float64, kinds []int, seed uint64) ([]shards.Row, error) {
	o := b.o
	k := min(max(int(float64(steps*o.Batch*o.GradAccum)*(1-fraction)), 1), len(b.corpus))
	sub := make([]shards.Row, k)
	for i := range sub {
		sub[i] = b.corpus[i*len(b.corpus)/k]
	}
	return Mix(sub, *b.src, o.Window, fraction, kinds, seed)
}

// copyRows returns the phase-3 rows: random-token copy rows.
func (b *builder) copyRows() ([]shards.Row, error) {
	o := b.o
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0xc0))
	rows := make([]shards.Row, max(o.CopySteps, 1)*o.Batch*o.GradAccum)
	var err error
	for i := range rows {
		if rows[i], err = CopyRow(rng, b.src.Pool, b.bos, o.CopyWindow, o.CopySegMin, o.CopySegMax); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// initModel writes the randomly initialised model (Output/init).
func (b *builder) initModel(ctx context.Context) error {
	o := b.o
	cfg, err := Config(o, b.tok.VocabSize(), b.bos, b.eos)
	if err != nil {
		return err
	}
	_, err = b.runner.Run(ctx, stage.Stage{Name: "init", Dir: filepath.Join(o.Output, "init"),
		Settings: map[string]any{"config": cfg, "seed": o.Seed, "tokenizer": b.tok.Hash()},
		Run: func(_ context.Context, dir string) (any, error) {
			m, err := model.New(cfg, o.Seed)
			if err != nil {
				return nil, err
			}
			if err := m.Save(dir, "float32"); err != nil {
				return nil, err
			}
			return nil, atomicfile.WriteFile(filepath.Join(dir, "tokenizer.json"), b.tokJSON)
		}}, nil)
	return err
}

// phase is one training phase.
type phase struct {
	name string // stage name and folder under Output
	data string // the data stage it trains on
	from string // the stage whose model it starts from, or a folder (Phase2Model)
	h    train.Hyper
}

// phases lists the training phases that the options enable.
func (b *builder) phases() []phase {
	o := b.o
	var ps []phase
	last := "init"
	add := func(name, data string, h train.Hyper) {
		ps = append(ps, phase{name: name, data: data, from: last, h: h})
		last = name
	}
	if o.Phase2Model == "" {
		add("train", "data", train.Hyper{Steps: o.Steps, Schedule: "cosine", LR: o.LR, Warmup: o.Warmup, MinLR: o.MinLR})
		if o.RetrievalSteps > 0 {
			add("train-retrieval", "data-retrieval", train.Hyper{Steps: o.RetrievalSteps, Schedule: "cosine", LR: o.RetrievalLR, Warmup: o.Warmup / 3, MinLR: o.MinLR})
		}
	} else {
		last = o.Phase2Model
	}
	if o.CopySteps > 0 {
		// Constant LR: the point is to leave the plateau, not to converge.
		add("train-copy", "data-copy", train.Hyper{Steps: o.CopySteps, Schedule: "constant", LR: o.CopyLR, Warmup: min(30, o.CopySteps/4)})
	}
	if o.FinalSteps > 0 {
		add("train-final", "data-final", train.Hyper{Steps: o.FinalSteps, Schedule: "cosine", LR: o.FinalLR, Warmup: o.Warmup / 3, MinLR: o.MinLR})
	}
	return ps
}

// phaseResult is a training phase's stage output.
type phaseResult struct {
	Steps    int     `json:"steps"`
	LastLoss float64 `json:"last_loss"`
	Seconds  float64 `json:"seconds"`
}

// train runs one phase and adds it to the build record.
func (b *builder) train(ctx context.Context, p phase) error {
	o := b.o
	p.h.Batch, p.h.GradAccum, p.h.GradClip, p.h.Seed = o.Batch, o.GradAccum, 1, o.Seed
	p.h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	from, deps := filepath.Join(o.Output, p.from), []string{p.data, p.from}
	settings := map[string]any{"hyper": p.h, "threads": o.Threads, "save_dtype": o.SaveDType}
	if _, ok := b.runner.Hash(p.from); !ok {
		from, deps = p.from, []string{p.data}
		settings["from"] = p.from
	}
	var res phaseResult
	out := filepath.Join(o.Output, p.name)
	if _, err := b.runner.Run(ctx, stage.Stage{Name: p.name, Dir: out, Deps: deps, Settings: settings, Resumable: true,
		Run: func(ctx context.Context, dir string) (any, error) {
			return runPhase(ctx, o, p.h, from, filepath.Join(o.Output, p.data), dir)
		}}, &res); err != nil {
		return err
	}
	b.info.Steps += res.Steps
	b.info.LastLoss, b.info.Seconds, b.info.ModelDir = res.LastLoss, b.info.Seconds+res.Seconds, out
	return nil
}

// runPhase trains one phase with the Go trainer.
func runPhase(ctx context.Context, o Options, h train.Hyper, from, data, out string) (*phaseResult, error) {
	t, _, err := steps.Train(ctx, trainer.Go{Precision: model.FP32}, trainer.Job{
		Hyper: h, From: from, Data: data, Output: out, CheckpointEvery: o.CheckpointEvery,
		Threads: o.Threads, Checkpointing: false, SaveDType: o.SaveDType, Progress: o.Progress, Log: o.Log,
	})
	if err != nil {
		return nil, err
	}
	// The last loss of the whole phase, across resumes.
	return &phaseResult{Steps: t.Steps, LastLoss: t.LastLoss, Seconds: t.Seconds}, nil
}

// finish counts the final model's parameters and writes build.json and
// the data manifest (ManifestFile).
func (b *builder) finish() (*BuildInfo, error) {
	m, err := model.Load(b.info.ModelDir)
	if err != nil {
		return nil, err
	}
	b.info.Params = m.NumParams()
	if err := b.writeManifest(); err != nil {
		return nil, err
	}
	j, err := json.MarshalIndent(b.info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("tinybase: build.json: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(b.o.Output, "build.json"), append(j, '\n')); err != nil {
		return nil, err
	}
	return b.info, nil
}

// sha hashes the corpus texts.
func sha(texts []string) string {
	h := sha256.New()
	for _, t := range texts {
		fmt.Fprintf(h, "%d\x00%s", len(t), t)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeRows writes pretraining rows as a shard folder and returns their
// counts.
func writeRows(dir string, rows []shards.Row, o Options, tokHash, what string) (*shards.Counts, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	w, err := shards.Create(dir, shards.WriterOptions{Format: shards.Binary})
	if err != nil {
		return nil, err
	}
	var counts shards.Counts
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			w.Abort()
			return nil, err
		}
		counts.Rows++
		counts.Tokens += int64(len(r.InputIDs))
	}
	m := shards.Manifest{Method: "full", TargetLength: o.Window, TrainLength: o.Window, Seed: uint64(o.Seed),
		Input: assets.CorpusName + " + " + what, TokenizerHash: tokHash, Counts: counts,
		ShortDocuments: "pretraining rows: documents cut into windows; synthetic rows are shorter than the window"}
	return &counts, w.Close(m)
}
