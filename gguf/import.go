package gguf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
)

// ImportOptions controls Import.
type ImportOptions struct {
	// DType of the written weights: hf.BF16 (default) or hf.F32.
	DType hf.DType
	// Force replaces an existing non-empty output folder.
	Force bool
	// MaxShardBytes splits the safetensors (0: hf.DefaultMaxShardBytes).
	MaxShardBytes int64
	// Progress, when set, is called with the bytes of each tensor written.
	Progress func(bytes int64)
}

// ImportResult summarises an import.
type ImportResult struct {
	Arch       string
	Tensors    int
	Parameters int64
	Bytes      int64 // of the written weights
	Parts      int   // GGUF files read
	Types      map[string]int
}

// Import converts the GGUF model at path (one file or the first part of a
// split model) into a Hugging Face folder output: config.json,
// tokenizer.json, tokenizer_config.json, generation_config.json and
// safetensors. The folder is built next to output under a temporary name
// and renamed into place, so output is either the complete model or
// untouched; nothing is written elsewhere.
func Import(path, output string, opts ImportOptions) (*ImportResult, error) {
	if opts.DType == "" {
		opts.DType = hf.BF16
	}
	if opts.DType != hf.BF16 && opts.DType != hf.F32 {
		return nil, fmt.Errorf("import: dtype %s not supported (want BF16 or F32)", opts.DType)
	}
	if err := checkOutput(output, opts.Force, path); err != nil {
		return nil, err
	}
	m, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := paths.CheckOutput("import", output, m.Parts...); err != nil {
		return nil, err // every part of a split model is an input
	}
	cfg, srcs, res, err := plan(m, opts.DType)
	if err != nil {
		return nil, err
	}
	tokJSON, tokCfg, err := BuildTokenizer(m.Header, path)
	if err != nil {
		return nil, err
	}
	tmp, err := makeTemp(output)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	if err := writeFolder(tmp, cfg, srcs, tokJSON, tokCfg, opts); err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if err := replaceDir(tmp, output); err != nil {
		return nil, err
	}
	return res, nil
}

// plan maps every GGUF tensor to its Hugging Face tensor and builds the
// config; an unknown tensor or unsupported type is an error naming it.
func plan(m *Model, dtype hf.DType) (*hf.Config, []hf.TensorSource, *ImportResult, error) {
	arch, err := Architecture(m.Header, m.Path)
	if err != nil {
		return nil, nil, nil, err
	}
	emb, ok := m.Tensor("token_embd.weight")
	if !ok || len(emb.Dims) != 2 {
		return nil, nil, nil, fmt.Errorf("gguf %s: no 2-D tensor \"token_embd.weight\"", m.Path)
	}
	_, hasOutput := m.Tensor("output.weight")
	torch := map[hf.DType]string{hf.BF16: "bfloat16", hf.F32: "float32"}[dtype]
	cfg, err := BuildConfig(m.Header, m.Path, emb.Dims[1], !hasOutput, torch)
	if err != nil {
		return nil, nil, nil, err
	}
	res := &ImportResult{Arch: arch, Parts: len(m.Parts), Types: map[string]int{}}
	var srcs []hf.TensorSource
	for _, t := range m.Tensors {
		if t.Name == "rope_freqs.weight" {
			// llama3 RoPE scaling, stored as factors: it goes into the
			// config, not the weights.
			s, err := m.ropeFromFactors(t, cfg)
			if err != nil {
				return nil, nil, nil, err
			}
			cfg.SetRope(cfg.RopeTheta, s, 0)
			continue
		}
		name := HFName(t.Name)
		if name == "" {
			return nil, nil, nil, fmt.Errorf("gguf %s: tensor %q is not part of a %s model this importer knows", t.File, t.Name, arch)
		}
		src, err := m.tensorSource(t, name, permuteHeads(arch, t.Name, cfg), dtype)
		if err != nil {
			return nil, nil, nil, err
		}
		srcs = append(srcs, src)
		res.Tensors++
		res.Parameters += t.Elements()
		res.Bytes += t.Elements() * int64(dtype.Size())
		res.Types[t.Type.String()]++
	}
	return cfg, srcs, res, nil
}

func writeFolder(dir string, cfg *hf.Config, srcs []hf.TensorSource, tokJSON, tokCfg []byte, opts ImportOptions) error {
	shard := opts.MaxShardBytes
	if shard == 0 {
		shard = hf.DefaultMaxShardBytes
	}
	wopts := hf.WriteOptions{MaxShardBytes: shard, Progress: opts.Progress,
		Metadata: map[string]string{"format": "pt", "converted_from": "gguf"}}
	if err := hf.WriteCheckpoint(dir, srcs, wopts); err != nil {
		return err
	}
	if err := cfg.Save(filepath.Join(dir, hf.ConfigFileName)); err != nil {
		return err
	}
	gen := fmt.Sprintf("{\n  \"bos_token_id\": %s,\n  \"eos_token_id\": %s\n}\n", idJSON(cfg.BOSTokenID), idJSON(cfg.EOSTokenID))
	files := map[string][]byte{"tokenizer.json": tokJSON, "tokenizer_config.json": tokCfg, "generation_config.json": []byte(gen)}
	for name, data := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return os.Chmod(dir, 0o755)
}

func idJSON(id int) string {
	if id < 0 {
		return "null"
	}
	return fmt.Sprint(id)
}

// checkOutput is the shared output rule (package paths) for a folder: the
// output is not an input and does not contain one (symbolic links
// resolved), an existing file is refused, and a non-empty folder is
// replaced only with force.
func checkOutput(output string, force bool, inputs ...string) error {
	if output == "" {
		return errors.New("import: no output folder")
	}
	if err := paths.CheckOutput("import", output, inputs...); err != nil {
		return err
	}
	if st, err := os.Stat(output); err == nil && !st.IsDir() {
		return fmt.Errorf("import: output %s exists and is not a folder", output)
	}
	return paths.CheckReplace("import", output, force)
}

func makeTemp(output string) (string, error) {
	parent := filepath.Dir(filepath.Clean(output))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(output))+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	return tmp, nil
}

// replaceDir renames the finished folder tmp to output, replacing an
// existing output folder.
func replaceDir(tmp, output string) error {
	if _, err := os.Stat(output); err != nil {
		if err := os.Rename(tmp, output); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		return nil
	}
	old := tmp + ".old"
	if err := os.Rename(output, old); err != nil {
		return fmt.Errorf("import: move old output aside: %w", err)
	}
	if err := os.Rename(tmp, output); err != nil {
		os.Rename(old, output)
		return fmt.Errorf("import: %w", err)
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("import: remove old output: %w", err)
	}
	return nil
}
