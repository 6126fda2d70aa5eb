package tinybase

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/tokenizer"
	"github.com/longrecipe/longrecipe/train"
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

// Build prepares the rows of every phase, initialises the model and runs
// the phases in order (Output/train, train-retrieval, train-copy,
// train-final); rerunning resumes. The final model folder (config,
// safetensors, tokenizer.json) is the last phase run, BuildInfo.ModelDir.
func Build(ctx context.Context, o Options) (*BuildInfo, error) {
	if o.Output == "" {
		return nil, fmt.Errorf("tinybase: no output folder")
	}
	tokJSON := assets.TokenizerJSON()
	tok, err := tokenizer.Parse(tokJSON, "assets/tokenizer.json")
	if err != nil {
		return nil, err
	}
	bos, okB := tok.BOS()
	eos, okE := tok.EOS()
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
	texts := make([]string, len(trainDocs))
	words := make([][]string, len(trainDocs))
	for i, d := range trainDocs {
		texts[i] = d.Text
		words[i] = strings.Fields(d.Text)
	}
	dataDir := filepath.Join(o.Output, "data")
	data2Dir := filepath.Join(o.Output, "data-retrieval")
	data3Dir := filepath.Join(o.Output, "data-copy")
	data4Dir := filepath.Join(o.Output, "data-final")
	info := &BuildInfo{Options: o, Corpus: assets.CorpusName}
	ready := true
	for _, d := range []string{dataDir, data2Dir, data3Dir, data4Dir} {
		if _, err := shards.ReadManifest(d); err != nil {
			ready = false
		}
	}
	if !ready {
		ids := tok.EncodeBatch(texts, true)
		corpus := ChunkRows(ids, o.Window)
		// The token pool of the copy rows: the corpus's tokens, so that
		// draws follow their unigram distribution (the words the model
		// will have to copy, numbers included, are the frequent ones).
		var pool []int32
		for _, d := range ids {
			for _, id := range d {
				if id != bos && id != eos {
					pool = append(pool, id)
				}
			}
		}
		src := Sources{Tok: tok, Texts: words, Pool: pool, BOS: bos}
		rows, err := Mix(corpus, src, o.Window, o.SyntheticFraction, []int{KindPasskey, KindKeyValue}, uint64(o.Seed))
		if err != nil {
			return nil, err
		}
		if err := writeRows(dataDir, rows, o, tok.Hash(), "synthetic retrieval rows"); err != nil {
			return nil, err
		}
		// Phases 2 and 4: an evenly spaced subset of the corpus plus
		// synthetic rows (half of phase 2, FinalSynthetic of phase 4).
		part := func(steps int, fraction float64, kinds []int, seed uint64) ([]shards.Row, error) {
			k := min(max(int(float64(steps*o.Batch*o.GradAccum)*(1-fraction)), 1), len(corpus))
			sub := make([]shards.Row, k)
			for i := range sub {
				sub[i] = corpus[i*len(corpus)/k]
			}
			return Mix(sub, src, o.Window, fraction, kinds, seed)
		}
		rows2, err := part(o.RetrievalSteps, 0.5, []int{KindCopyText, KindPasskey, KindCopyText, KindKeyValue}, uint64(o.Seed)+1)
		if err != nil {
			return nil, err
		}
		if err := writeRows(data2Dir, rows2, o, tok.Hash(), "copy, passkey and key-value rows"); err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(uint64(o.Seed), 0xc0))
		rows3 := make([]shards.Row, max(o.CopySteps, 1)*o.Batch*o.GradAccum)
		for i := range rows3 {
			if rows3[i], err = CopyRow(rng, src.Pool, bos, o.CopyWindow, o.CopySegMin, o.CopySegMax); err != nil {
				return nil, err
			}
		}
		if err := writeRows(data3Dir, rows3, o, tok.Hash(), "random-token copy rows (corpus unigram distribution)"); err != nil {
			return nil, err
		}
		rows4, err := part(o.FinalSteps, o.FinalSynthetic, []int{KindCopyRand, KindPasskey, KindCopyText, KindKeyValue}, uint64(o.Seed)+3)
		if err != nil {
			return nil, err
		}
		if err := writeRows(data4Dir, rows4, o, tok.Hash(), "random-token copy, copy, passkey and key-value rows"); err != nil {
			return nil, err
		}
	}
	man, err := shards.ReadManifest(dataDir)
	if err != nil {
		return nil, err
	}
	info.Rows, info.Tokens = int(man.Counts.Rows), man.Counts.Tokens
	info.Synthetic = int(float64(info.Rows) * o.SyntheticFraction)

	initDir := filepath.Join(o.Output, "init")
	if _, err := os.Stat(filepath.Join(initDir, "model.safetensors")); err != nil {
		cfg, err := Config(o, tok.VocabSize(), bos, eos)
		if err != nil {
			return nil, err
		}
		m, err := model.New(cfg, o.Seed)
		if err != nil {
			return nil, err
		}
		if err := m.Save(initDir, "float32"); err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(filepath.Join(initDir, "tokenizer.json"), tokJSON); err != nil {
			return nil, err
		}
	}
	adam := train.AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	phase := func(h train.Hyper, from, data, out string) error {
		h.Batch, h.GradAccum, h.GradClip, h.Seed = o.Batch, o.GradAccum, 1, o.Seed
		h.SetAdamW(adam)
		res, err := train.RunFolder(ctx, train.FolderJob{
			Hyper: h, From: from, Data: data, Output: out, CheckpointEvery: o.CheckpointEvery,
			Threads: o.Threads, Checkpointing: false, SaveDType: o.SaveDType, Progress: o.Progress, Log: o.Log,
		})
		if err != nil {
			return err
		}
		last := res.LastLoss
		if math.IsNaN(last) {
			// A rerun found the phase finished: its last loss is the
			// last line of its metrics.
			ms, err := train.ReadMetrics(filepath.Join(out, "metrics.jsonl"))
			if err != nil {
				return err
			}
			if len(ms) > 0 {
				last = ms[len(ms)-1].Loss
			}
		}
		info.Steps += res.Steps
		info.LastLoss, info.Seconds, info.ModelDir = last, info.Seconds+res.Elapsed.Seconds(), out
		return nil
	}
	trainDir := filepath.Join(o.Output, "train")
	last := o.Phase2Model
	if last == "" {
		if err := phase(train.Hyper{Steps: o.Steps, Schedule: "cosine", LR: o.LR, Warmup: o.Warmup, MinLR: o.MinLR}, initDir, dataDir, trainDir); err != nil {
			return nil, err
		}
		last = trainDir
	}
	if o.Phase2Model == "" && o.RetrievalSteps > 0 {
		h := train.Hyper{Steps: o.RetrievalSteps, Schedule: "cosine", LR: o.RetrievalLR, Warmup: o.Warmup / 3, MinLR: o.MinLR}
		if err := phase(h, last, data2Dir, filepath.Join(o.Output, "train-retrieval")); err != nil {
			return nil, err
		}
		last = filepath.Join(o.Output, "train-retrieval")
	}
	if o.CopySteps > 0 {
		// Constant LR: the point is to leave the plateau, not to converge.
		h := train.Hyper{Steps: o.CopySteps, Schedule: "constant", LR: o.CopyLR, Warmup: min(30, o.CopySteps/4)}
		if err := phase(h, last, data3Dir, filepath.Join(o.Output, "train-copy")); err != nil {
			return nil, err
		}
		last = filepath.Join(o.Output, "train-copy")
	}
	if o.FinalSteps > 0 {
		h := train.Hyper{Steps: o.FinalSteps, Schedule: "cosine", LR: o.FinalLR, Warmup: o.Warmup / 3, MinLR: o.MinLR}
		if err := phase(h, last, data4Dir, filepath.Join(o.Output, "train-final")); err != nil {
			return nil, err
		}
	}
	m, err := model.Load(info.ModelDir)
	if err != nil {
		return nil, err
	}
	info.Params = m.NumParams()
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("tinybase: build.json: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(o.Output, "build.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	return info, nil
}

// writeRows writes pretraining rows as a shard folder.
func writeRows(dir string, rows []shards.Row, o Options, tokHash, what string) error {
	os.RemoveAll(dir)
	w, err := shards.Create(dir, shards.WriterOptions{Format: shards.Binary})
	if err != nil {
		return err
	}
	var counts shards.Counts
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			w.Abort()
			return err
		}
		counts.Rows++
		counts.Tokens += int64(len(r.InputIDs))
	}
	m := shards.Manifest{Method: "full", TargetLength: o.Window, TrainLength: o.Window, Seed: uint64(o.Seed),
		Input: assets.CorpusName + " + " + what, TokenizerHash: tokHash, Counts: counts,
		ShortDocuments: "pretraining rows: documents cut into windows; synthetic rows are shorter than the window"}
	return w.Close(m)
}
