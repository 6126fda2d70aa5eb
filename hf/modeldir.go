package hf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
)

// TokenizerFiles are the files of a model folder that describe its
// tokenizer and generation defaults; CopyTokenizerFiles carries them over.
var TokenizerFiles = []string{
	"tokenizer.json",
	"tokenizer_config.json",
	"special_tokens_map.json",
	"generation_config.json",
}

// ReadModelDir loads dir/config.json, opens the checkpoint in dir and
// checks the config's sizes against the tensors on disk (CheckWeights), so
// a corrupt config is refused before a model of its size is allocated. The
// caller closes the checkpoint.
func ReadModelDir(dir string) (*Config, *Checkpoint, error) {
	cfg, ck, err := OpenModelDir(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.CheckWeights(ck); err != nil {
		ck.Close()
		return nil, nil, err
	}
	return cfg, ck, nil
}

// OpenModelDir is ReadModelDir without CheckWeights, for tools that handle
// tensors one by one whatever their names and never allocate a model of
// the config's size (merge, inspect). The config itself is validated.
func OpenModelDir(dir string) (*Config, *Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("model folder: %w", err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("model folder %s: not a directory", dir)
	}
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFileName))
	if err != nil {
		return nil, nil, err
	}
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		return nil, nil, err
	}
	return cfg, ck, nil
}

// CopyTokenizerFiles copies those of TokenizerFiles that exist in src into
// dst (atomically, one by one) and returns the names copied. A missing file
// is skipped; any other error is returned.
func CopyTokenizerFiles(src, dst string) ([]string, error) {
	var copied []string
	for _, name := range TokenizerFiles {
		data, err := paths.ReadRegular(filepath.Join(src, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return copied, fmt.Errorf("copy tokenizer files: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dst, name), data); err != nil {
			return copied, fmt.Errorf("copy tokenizer files: %w", err)
		}
		copied = append(copied, name)
	}
	return copied, nil
}
