package gguf

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// ExportOptions controls Export.
type ExportOptions struct {
	// Type of the weight matrices: F32, F16, BF16, Q8_0, Q4_K or Q6_K
	// (default F32). 1-D tensors stay F32 whatever it is (see tensorType).
	Type GGMLType
	// FreeBytes, when set, replaces the free-disk query (tests).
	FreeBytes func(dir string) (int64, error)
	// Progress, when set, is called with the bytes of each tensor written.
	Progress func(bytes int64)
}

// ExportResult summarises an export.
type ExportResult struct {
	Arch    string
	Tensors int
	Bytes   int64 // of the file
	Types   map[string]int
}

// Export writes the Hugging Face model folder dir as the GGUF v3 file out:
// the llama.cpp metadata its config describes (hyper-parameters,
// context_length = max_position_embeddings, rope.freq_base, rope scaling,
// the tokenizer) and its tensors under llama.cpp's names, query and key
// rows permuted as llama.cpp's converter does, encoded as opts.Type. The
// tensors are streamed, a group of rows at a time. Everything that could
// fail on the model (an architecture, rope scaling, tokenizer or tensor
// llama.cpp cannot express; too little free disk) fails before a byte is
// written; the file is written atomically, so out is either complete or
// untouched.
func Export(dir, out string, opts ExportOptions) (*ExportResult, error) {
	if !quantizable(opts.Type) {
		return nil, fmt.Errorf("export: ggml type %s cannot be written (writable: %s)", opts.Type, QuantizableTypes)
	}
	cfg, ck, err := hf.ReadModelDir(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	arch, err := exportArch(cfg, dir)
	if err != nil {
		return nil, err
	}
	tensors, res, err := planExport(ck, cfg, arch, opts)
	if err != nil {
		return nil, err
	}
	kvs, err := exportMetadata(cfg, arch, dir, opts.Type)
	if err != nil {
		return nil, err
	}
	tok, err := exportTokenizer(dir, cfg)
	if err != nil {
		return nil, err
	}
	kvs = append(kvs, tok...)
	res.Bytes = FileSize(kvs, tensors)
	if err := checkFree(out, res.Bytes, opts.FreeBytes); err != nil {
		return nil, err
	}
	err = atomicfile.Write(out, func(w io.Writer) error { return WriteFile(w, kvs, tensors) })
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", dir, err)
	}
	return res, nil
}

func quantizable(t GGMLType) bool { return quantizers[t] != nil }

// exportArch returns the llama.cpp architecture for a config, or an error
// saying what llama.cpp could not run as the model does: llama.cpp's
// llama and qwen2 graphs attend over the whole context, so a sliding
// window shorter than the context is refused. Mistral is written as
// llama, as llama.cpp's own converter does.
func exportArch(cfg *hf.Config, dir string) (string, error) {
	arch := map[string]string{"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}[cfg.ModelType]
	if arch == "" {
		return "", fmt.Errorf("export %s: model_type %q cannot be written to GGUF (want llama, mistral or qwen2)", dir, cfg.ModelType)
	}
	slides := cfg.SlidingWindow > 0 && cfg.SlidingWindow < cfg.MaxPositionEmbeddings
	if cfg.ModelType == "qwen2" && cfg.MaxWindowLayers >= cfg.NumHiddenLayers {
		slides = false // no layer uses the window
	}
	if slides {
		return "", fmt.Errorf("export %s: config.json: sliding_window %d is shorter than max_position_embeddings %d; llama.cpp's %s graph attends over the whole context, so GGUF cannot express this model", dir, cfg.SlidingWindow, cfg.MaxPositionEmbeddings, arch)
	}
	return arch, nil
}

// fileTypes are llama.cpp's general.file_type values (enum llama_ftype).
var fileTypes = map[GGMLType]uint32{F32: 0, F16: 1, Q8_0: 7, Q4_K: 14, Q6_K: 18, BF16: 32}

// exportMetadata returns general.* and the architecture's keys.
func exportMetadata(cfg *hf.Config, arch, dir string, typ GGMLType) ([]KV, error) {
	k := func(s string) string { return arch + "." + s }
	u := func(n int) Value { return Uint32Value(uint32(n)) }
	kvs := []KV{
		{"general.architecture", StringValue(arch)},
		{"general.name", StringValue(filepath.Base(filepath.Clean(dir)))},
		{"general.file_type", Uint32Value(fileTypes[typ])},
		{k("vocab_size"), u(cfg.VocabSize)},
		{k("context_length"), u(cfg.MaxPositionEmbeddings)},
		{k("embedding_length"), u(cfg.HiddenSize)},
		{k("block_count"), u(cfg.NumHiddenLayers)},
		{k("feed_forward_length"), u(cfg.IntermediateSize)},
		{k("attention.head_count"), u(cfg.NumAttentionHeads)},
		{k("attention.head_count_kv"), u(cfg.NumKeyValueHeads)},
		{k("attention.key_length"), u(cfg.HeadDim)},
		{k("attention.value_length"), u(cfg.HeadDim)},
		{k("attention.layer_norm_rms_epsilon"), Float32Value(float32(cfg.RMSNormEps))},
		{k("rope.dimension_count"), u(cfg.HeadDim)},
		{k("rope.freq_base"), Float32Value(float32(cfg.RopeTheta))},
	}
	if typ != F32 && typ != F16 && typ != BF16 {
		kvs = append(kvs, KV{"general.quantization_version", Uint32Value(2)})
	}
	if cfg.SlidingWindow > 0 {
		kvs = append(kvs, KV{k("attention.sliding_window"), u(cfg.SlidingWindow)})
	}
	scaling, err := ropeScalingKVs(cfg, k, dir)
	if err != nil {
		return nil, err
	}
	return append(kvs, scaling...), nil
}

// ropeScalingKVs writes linear and YaRN scaling as llama.cpp's
// rope.scaling.* keys; llama3 scaling goes into the rope_freqs tensor
// instead (see planExport). Dynamic NTK scaling, and YaRN settings that
// llama.cpp's llama and qwen2 graphs do not read, are refused.
func ropeScalingKVs(cfg *hf.Config, k func(string) string, dir string) ([]KV, error) {
	s := cfg.RopeScaling
	if s == nil || s.Type == "llama3" {
		return nil, nil
	}
	refuse := func(why string) error {
		return fmt.Errorf("export %s: config.json: rope_scaling %q %s, which GGUF cannot express for llama.cpp", dir, s.Type, why)
	}
	kvs := []KV{{k("rope.scaling.type"), StringValue(s.Type)}, {k("rope.scaling.factor"), Float32Value(float32(s.Factor))}}
	switch s.Type {
	case "linear":
		return kvs, nil
	case "yarn":
		if s.OriginalMaxPositionEmbeddings <= 0 {
			return nil, refuse("has no original_max_position_embeddings")
		}
		def := 0.1*math.Log(s.Factor) + 1
		if s.BetaFast != 32 || s.BetaSlow != 1 || (s.AttentionFactor != 0 && math.Abs(s.AttentionFactor-def) > 1e-6) {
			return nil, refuse(fmt.Sprintf("has beta_fast %v, beta_slow %v, attention_factor %v (llama.cpp uses 32, 1 and 0.1·ln(factor)+1)", s.BetaFast, s.BetaSlow, s.AttentionFactor))
		}
		return append(kvs, KV{k("rope.scaling.original_context_length"), Uint32Value(uint32(s.OriginalMaxPositionEmbeddings))}), nil
	}
	return nil, refuse("(dynamic NTK) is computed at run time from the sequence length")
}

// checkFree refuses a file of size bytes that the disk holding out cannot
// take (with 1% and 16 MiB to spare).
func checkFree(out string, size int64, free func(string) (int64, error)) error {
	if free == nil {
		free = freeBytes
	}
	dir := filepath.Dir(filepath.Clean(out))
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("export: output folder: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("export: output folder %s is not a directory", dir)
	}
	avail, err := free(dir)
	if err != nil {
		return fmt.Errorf("export: free space of %s: %w", dir, err)
	}
	if need := size + size/100 + 16<<20; avail < need {
		return fmt.Errorf("export: %s needs %d bytes but only %d are free on the disk holding %s", out, size, avail, dir)
	}
	return nil
}
