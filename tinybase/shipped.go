package tinybase

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
)

//go:embed shipped
var shipped embed.FS

// Shipped returns the embedded tiny base model folder (config.json,
// model.safetensors, tokenizer.json, build.json, README.md).
func Shipped() (fs.FS, error) {
	sub, err := fs.Sub(shipped, "shipped")
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		if _, err := fs.Stat(sub, f); err != nil {
			return nil, fmt.Errorf("tinybase: this build has no shipped model (%s missing): rebuild it with \"longrecipe tinybase\"", f)
		}
	}
	return sub, nil
}

// WriteShipped copies the embedded tiny base model into dir (files that
// are there already with the same bytes are left alone).
func WriteShipped(dir string) error {
	fsys, err := Shipped()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if old, err := paths.ReadRegular(dst); err == nil && string(old) == string(b) {
			return nil
		}
		return atomicfile.WriteFile(dst, b)
	})
}
