package tinybase

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	// Pretraining.
	Steps, Batch, GradAccum, Warmup int
	LR, MinLR                       float64
	// SyntheticFraction of all rows are retrieval documents.
	SyntheticFraction float64
	// Phase 2 (retrieval curriculum): RetrievalSteps more steps from the
	// phase-1 model on rows that are half corpus, half synthetic (copy
	// documents, pass keys, key–value needles), cosine RetrievalLR → MinLR.
	RetrievalSteps  int
	RetrievalLR     float64
	Seed            int64
	Threads         int
	CheckpointEvery int
	SaveDType       string
	Progress, Log   io.Writer `json:"-"`
}

// DefaultOptions is the shipped model's recipe: a 4-layer Llama, d = 256,
// 4 heads (2 KV heads), window 256, on the embedded corpus's training split
// (90 % of the addresses) plus 25 % synthetic retrieval rows.
func DefaultOptions() Options {
	return Options{
		Window: 256, Hidden: 256, Layers: 4, Heads: 4, KVHeads: 2, Intermediate: 768, RopeTheta: 10000,
		Steps: 1000, Batch: 16, GradAccum: 1, Warmup: 60, LR: 2e-3, MinLR: 1e-4,
		SyntheticFraction: 0.25, RetrievalSteps: 500, RetrievalLR: 1e-3,
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

// Build prepares the pretraining rows, initialises the model and pretrains
// it; rerunning resumes. The final model folder is Output/train/ (config,
// safetensors, tokenizer.json).
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
	info := &BuildInfo{Options: o, Corpus: assets.CorpusName}
	_, err1 := shards.ReadManifest(dataDir)
	_, err2 := shards.ReadManifest(data2Dir)
	if err1 != nil || err2 != nil {
		ids := tok.EncodeBatch(texts, true)
		corpus := ChunkRows(ids, o.Window)
		rows, err := Mix(corpus, tok, words, o.Window, o.SyntheticFraction, []int{0, 1}, uint64(o.Seed))
		if err != nil {
			return nil, err
		}
		if err := writeRows(dataDir, rows, o, tok.Hash(), "synthetic retrieval rows"); err != nil {
			return nil, err
		}
		// Phase 2: half corpus (an evenly spaced subset), half synthetic.
		k := min(max(o.RetrievalSteps*o.Batch/2, 1), len(corpus))
		sub := make([]shards.Row, k)
		for i := range sub {
			sub[i] = corpus[i*len(corpus)/k]
		}
		rows2, err := Mix(sub, tok, words, o.Window, 0.5, []int{2, 0, 2, 1}, uint64(o.Seed)+1)
		if err != nil {
			return nil, err
		}
		if err := writeRows(data2Dir, rows2, o, tok.Hash(), "copy, passkey and key-value rows"); err != nil {
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
	h := train.Hyper{Steps: o.Steps, Batch: o.Batch, GradAccum: o.GradAccum, Schedule: "cosine", LR: o.LR, Warmup: o.Warmup, MinLR: o.MinLR, GradClip: 1, Seed: o.Seed}
	h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	trainDir := filepath.Join(o.Output, "train")
	res, err := train.RunFolder(ctx, train.FolderJob{
		Hyper: h, From: initDir, Data: dataDir, Output: trainDir, CheckpointEvery: o.CheckpointEvery,
		Threads: o.Threads, Checkpointing: false, SaveDType: o.SaveDType, Progress: o.Progress, Log: o.Log,
	})
	if err != nil {
		return nil, err
	}
	info.Steps, info.LastLoss, info.Seconds, info.ModelDir = res.Steps, res.LastLoss, res.Elapsed.Seconds(), trainDir
	if o.RetrievalSteps > 0 {
		h2 := train.Hyper{Steps: o.RetrievalSteps, Batch: o.Batch, GradAccum: o.GradAccum, Schedule: "cosine", LR: o.RetrievalLR, Warmup: o.Warmup / 3, MinLR: o.MinLR, GradClip: 1, Seed: o.Seed}
		h2.SetAdamW(h.AdamWConfig())
		dir2 := filepath.Join(o.Output, "train-retrieval")
		res2, err := train.RunFolder(ctx, train.FolderJob{
			Hyper: h2, From: trainDir, Data: data2Dir, Output: dir2, CheckpointEvery: o.CheckpointEvery,
			Threads: o.Threads, Checkpointing: false, SaveDType: o.SaveDType, Progress: o.Progress, Log: o.Log,
		})
		if err != nil {
			return nil, err
		}
		info.Steps += res2.Steps
		info.LastLoss, info.Seconds, info.ModelDir = res2.LastLoss, info.Seconds+res2.Elapsed.Seconds(), dir2
	}
	m, err := model.Load(info.ModelDir)
	if err != nil {
		return nil, err
	}
	info.Params = m.NumParams()
	b, _ := json.MarshalIndent(info, "", "  ")
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
